"""Offline stand-in for the get-pip script ansible-test downloads.

ansible-test bootstraps each of its test virtualenvs by running get-pip-<version>.py, which it
fetches from ci-files.testing.ansible.com, a host outside the package registries. This script
does the same job from what is already here: ensurepip puts the interpreter's bundled pip into
the virtualenv, then that pip installs the packages ansible-test asked for from the package index.
"""

import subprocess
import sys

GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}


def main() -> None:
    subprocess.run(
        [sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    pip_arguments = [argument for argument in sys.argv[1:] if argument not in GET_PIP_ONLY_OPTIONS]
    subprocess.run([sys.executable, "-m", "pip", "install", *pip_arguments], check=True)


if __name__ == "__main__":
    main()
