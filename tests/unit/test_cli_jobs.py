"""What `kruise-cri pin | disable-daemon | drain | migrate` hand their playbooks: the extra vars,
the inventory and --limit each option becomes, and the inputs refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kruise_cri.cli import build_parser
from kruise_cri.jobs import (
    JobInputError,
    disable_job,
    drain_job,
    extra_vars,
    host_summary,
    migrate_job,
    pin_job,
)


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


def test_pin_pins_the_bridge_release_with_the_helm_options(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("{}")
    job = pin_job(
        parse(
            "pin",
            "--kubeconfig",
            str(kubeconfig),
            "--helm-release",
            "oks",
            "--force",
            "-e",
            "kruise_cri_timeout=600",
        )
    )
    assert job.fqcn == "kruise_cri.remediation.pin_kruise"
    assert job.extravars == {
        "kruise_cri_target_version": "1.5.5",
        "kruise_cri_kubeconfig": str(kubeconfig),
        "kruise_cri_helm_release": "oks",
        "kruise_cri_force": True,
        "kruise_cri_timeout": "600",
    }
    assert job.inventory is None  # the implicit localhost: the cluster modules on this Python


def test_pin_undo_undoes_the_newest_pin() -> None:
    assert "kruise_cri_pin_action" not in pin_job(parse("pin")).extravars
    undo = pin_job(parse("pin", "--undo", "--force")).extravars
    assert undo["kruise_cri_pin_action"] == "unpin" and undo["kruise_cri_force"] is True


def test_disable_and_enable_set_the_direction() -> None:
    assert disable_job(parse("disable-daemon")).extravars["kruise_cri_direction"] == "disable"
    assert (
        disable_job(parse("disable-daemon", "--enable")).extravars["kruise_cri_direction"]
        == "enable"
    )


@pytest.mark.parametrize(
    ("flags", "state"),
    [((), "drain"), (("--cordon-only",), "cordon"), (("--uncordon",), "uncordon")],
)
def test_drain_says_what_to_do_with_the_node(flags: tuple[str, ...], state: str) -> None:
    job = drain_job(parse("drain", "node-1", *flags, "--timeout", "60"))
    assert job.playbook == "drain_node"
    assert job.extravars == {
        "kruise_cri_node": "node-1",
        "kruise_cri_drain_state": state,
        "kruise_cri_drain_timeout": 60,
    }


def test_migrate_takes_the_inventory_the_limit_and_the_archive(tmp_path: Path) -> None:
    archive = tmp_path / "containerd-1.7.24-linux-amd64.tar.gz"
    archive.write_bytes(b"")
    args = parse(
        "migrate",
        "-i",
        "hosts.yml",
        "--limit",
        "node-1,node-2",
        "--containerd-archive",
        str(archive),
        "--images",
        "carry",
        "--serial",
        "2",
    )
    job = migrate_job(args, "/abs/hosts.yml")
    assert (job.inventory, job.limit) == ("/abs/hosts.yml", "node-1,node-2")
    assert job.extravars == {
        "kruise_cri_migrate_images": "carry",
        "kruise_cri_containerd_archive": str(archive),
        "kruise_cri_serial": 2,
    }


def test_extra_vars_take_pairs_and_json_objects_in_order() -> None:
    assert extra_vars(["a=1", '{"b": [1, 2], "a": "2"}', "c=x=y"]) == {
        "a": "2",
        "b": [1, 2],
        "c": "x=y",
    }
    with pytest.raises(JobInputError, match=r"""-e '\{"a": 1' is not a JSON object"""):
        extra_vars(['{"a": 1'])
    with pytest.raises(JobInputError, match="is not KEY=VALUE"):
        extra_vars(["=value"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("pin", "--version", "1.6.0"), "not a 1.5.x release"),
        (("drain", "n", "--timeout", "0"), "--timeout 0 must be 1 second or more"),
    ],
)
def test_bad_options_are_named(argv: tuple[str, ...], message: str) -> None:
    args = parse(*argv)
    with pytest.raises(JobInputError, match=message):
        (pin_job if argv[0] == "pin" else drain_job)(args)


def test_the_summary_counts_per_host() -> None:
    stats = {
        "ok": {"localhost": 3, "n1": 2},
        "changed": {"n1": 1},
        "failures": {"n1": 1},
        "dark": {},
        "skipped": {"localhost": 1},
    }
    assert host_summary(stats) == {
        "localhost": {"ok": 3, "changed": 0, "failed": 0, "unreachable": 0, "skipped": 1},
        "n1": {"ok": 2, "changed": 1, "failed": 1, "unreachable": 0, "skipped": 0},
    }
