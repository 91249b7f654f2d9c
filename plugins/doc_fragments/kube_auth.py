"""How the cluster modules reach the Kubernetes API; shared by every one of them."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to the kubeconfig to use.
      - Defaults to C($KUBECONFIG), then C(~/.kube/config), then the in-cluster service account.
      - Set it once for every cluster module with C(module_defaults) and the group
        C(group/kruise_cri.remediation.cluster).
      - Unset, the environment variable C(K8S_AUTH_KUBECONFIG) gives it, as for kubernetes.core.
    type: path
  context:
    description:
      - The kubeconfig context to use; defaults to its C(current-context).
      - Unset, the environment variable C(K8S_AUTH_CONTEXT) gives it, as for kubernetes.core.
    type: str
  host:
    description:
      - URL of the API server, for example C(https://10.0.0.1:6443). Overrides the kubeconfig's.
      - Unset, the environment variable C(K8S_AUTH_HOST) gives it, as for kubernetes.core.
        AWX's Kubernetes credential sets C(K8S_AUTH_HOST), C(K8S_AUTH_API_KEY),
        C(K8S_AUTH_VERIFY_SSL) and C(K8S_AUTH_SSL_CA_CERT).
    type: str
  api_key:
    description:
      - A bearer token, used instead of the kubeconfig's credentials. Never logged.
      - Unset, the environment variable C(K8S_AUTH_API_KEY) gives it, as for kubernetes.core.
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's certificate. Defaults to the kubeconfig's setting
        (verify unless it says C(insecure-skip-tls-verify)).
      - Unset, the environment variable C(K8S_AUTH_VERIFY_SSL) gives it, as for kubernetes.core.
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - The CA certificate file that signed the API server's certificate.
      - Unset, the environment variable C(K8S_AUTH_SSL_CA_CERT) gives it, as for kubernetes.core.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - A client certificate file for authentication.
      - Unset, the environment variable C(K8S_AUTH_CERT_FILE) gives it, as for kubernetes.core.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - The key file of O(client_cert).
      - Unset, the environment variable C(K8S_AUTH_KEY_FILE) gives it, as for kubernetes.core.
    type: path
    aliases: [key_file]
  proxy:
    description:
      - An HTTP proxy to reach the API server through, for example C(http://proxy:3128).
      - Credentials in the URL (C(http://user:password@proxy:3128)) are sent to the proxy as
        HTTP Basic authentication. Never logged.
      - Unset, the environment variable C(K8S_AUTH_PROXY) gives it, as for kubernetes.core.
    type: str
requirements:
  - kubernetes (the Python client) on the host that runs the module, usually the controller
"""
