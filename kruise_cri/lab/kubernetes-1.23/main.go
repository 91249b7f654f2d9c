// Command dockershim serves the CRI v1alpha2 API of Kubernetes v1.23.17's dockershim on a unix
// socket, as the kubelet did in-process for --container-runtime=docker, but without a kubelet.
//
// The service is built the way pkg/kubelet/kubelet_dockershim.go builds it (runDockershim), with
// the kubelet's defaults for every setting that has no flag here. The network plugin is CNI with
// the directories given as flags: it starts without any CNI configuration (the network condition
// is then reported not ready), whereas the default no-op plugin would load br_netfilter and set
// host sysctls.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/component-base/version"
	"k8s.io/klog/v2"
	kubeletconfig "k8s.io/kubernetes/pkg/kubelet/apis/config"
	"k8s.io/kubernetes/pkg/kubelet/cri/streaming"
	"k8s.io/kubernetes/pkg/kubelet/dockershim"
	dockerremote "k8s.io/kubernetes/pkg/kubelet/dockershim/remote"
)

type options struct {
	listen                    string
	dockerEndpoint            string
	rootDirectory             string
	podInfraContainerImage    string
	networkPlugin             string
	cniConfDir                string
	cniBinDir                 string
	cniCacheDir               string
	cgroupDriver              string
	runtimeCgroups            string
	streamingAddress          string
	streamingIdleTimeout      time.Duration
	runtimeRequestTimeout     time.Duration
	imagePullProgressDeadline time.Duration
	printVersion              bool
}

func parseFlags() options {
	var o options
	// Defaults are the kubelet v1.23 defaults (cmd/kubelet/app/options) unless noted.
	flag.StringVar(&o.listen, "listen", "unix:///var/run/dockershim.sock",
		"CRI endpoint to serve (kubelet --container-runtime-endpoint)")
	flag.StringVar(&o.dockerEndpoint, "docker-endpoint", "unix:///var/run/docker.sock",
		"Docker Engine API endpoint")
	flag.StringVar(&o.rootDirectory, "root-directory", "/var/lib/dockershim",
		"dockershim state (sandbox checkpoints); kubelet --experimental-dockershim-root-directory")
	flag.StringVar(&o.podInfraContainerImage, "pod-infra-container-image", "k8s.gcr.io/pause:3.6",
		"image of the pod sandbox container")
	flag.StringVar(&o.networkPlugin, "network-plugin", "cni",
		`"cni", "kubenet" or "" (no-op); the kubelet's default is "", see the package comment`)
	flag.StringVar(&o.cniConfDir, "cni-conf-dir", "/etc/cni/net.d", "CNI configuration directory")
	flag.StringVar(&o.cniBinDir, "cni-bin-dir", "/opt/cni/bin",
		"comma-separated CNI plugin directories")
	flag.StringVar(&o.cniCacheDir, "cni-cache-dir", "/var/lib/cni/cache", "CNI cache directory")
	flag.StringVar(&o.cgroupDriver, "cgroup-driver", "",
		`the kubelet's cgroup driver, checked against Docker's; "" accepts Docker's`)
	flag.StringVar(&o.runtimeCgroups, "runtime-cgroups", "",
		"cgroup to move dockerd and containerd into; empty leaves them where they are")
	flag.StringVar(&o.streamingAddress, "streaming-address", "127.0.0.1:0",
		"address of the exec/attach/port-forward server (the kubelet uses localhost:0)")
	flag.DurationVar(&o.streamingIdleTimeout, "streaming-connection-idle-timeout", 4*time.Hour,
		"idle timeout of streaming connections")
	flag.DurationVar(&o.runtimeRequestTimeout, "runtime-request-timeout", 2*time.Minute,
		"timeout of Docker API requests")
	flag.DurationVar(&o.imagePullProgressDeadline, "image-pull-progress-deadline", time.Minute,
		"cancel an image pull that makes no progress for this long")
	flag.BoolVar(&o.printVersion, "version", false, "print the Kubernetes version and exit")
	klog.InitFlags(nil)
	flag.Parse()
	return o
}

func run(o options) error {
	pluginSettings := dockershim.NetworkPluginSettings{
		HairpinMode:        kubeletconfig.PromiscuousBridge,
		NonMasqueradeCIDR:  "10.0.0.0/8",
		PluginName:         o.networkPlugin,
		PluginConfDir:      o.cniConfDir,
		PluginBinDirString: o.cniBinDir,
		PluginCacheDir:     o.cniCacheDir,
	}
	streamingConfig := &streaming.Config{
		Addr:                            o.streamingAddress,
		StreamIdleTimeout:               o.streamingIdleTimeout,
		StreamCreationTimeout:           streaming.DefaultConfig.StreamCreationTimeout,
		SupportedRemoteCommandProtocols: streaming.DefaultConfig.SupportedRemoteCommandProtocols,
		SupportedPortForwardProtocols:   streaming.DefaultConfig.SupportedPortForwardProtocols,
	}
	if _, _, err := net.SplitHostPort(o.streamingAddress); err != nil {
		return fmt.Errorf("--streaming-address: %v", err)
	}
	clientConfig := &dockershim.ClientConfig{
		DockerEndpoint:            o.dockerEndpoint,
		RuntimeRequestTimeout:     o.runtimeRequestTimeout,
		ImagePullProgressDeadline: o.imagePullProgressDeadline,
	}
	service, err := dockershim.NewDockerService(clientConfig, o.podInfraContainerImage,
		streamingConfig, &pluginSettings, o.runtimeCgroups, o.cgroupDriver, o.rootDirectory)
	if err != nil {
		return err
	}
	if err := dockerremote.NewDockerServer(o.listen, service).Start(); err != nil {
		return err
	}
	supported, err := service.IsCRISupportedLogDriver()
	if err != nil {
		return err
	}
	if !supported {
		// The kubelet would read such logs through the Docker API instead (legacy service).
		klog.InfoS("Docker's log driver cannot be read through CRI; container logs will fail")
	}
	klog.InfoS("dockershim serving", "endpoint", o.listen, "version", version.Get().GitVersion)
	return nil
}

func main() {
	o := parseFlags()
	if o.printVersion {
		fmt.Printf("dockershim (Kubernetes %s)\n", version.Get().GitVersion)
		return
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	if err := run(o); err != nil {
		klog.ErrorS(err, "dockershim failed to start")
		klog.Flush()
		os.Exit(1)
	}
	received := <-stop
	klog.InfoS("dockershim stopping", "signal", received.String())
	klog.Flush()
}
