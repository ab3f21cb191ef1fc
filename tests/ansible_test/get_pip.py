"""Offline stand-in for the get-pip.py bootstrap script that ``ansible-test --venv`` downloads.

ansible-test creates each sanity virtual environment without pip, then runs get-pip.py with pip's
install arguments. That download cannot be reached from CI, and ansible-test reads the script
from ``~/.ansible/test/cache/get_pip_<version>.py`` when it is there, so ``scripts/test`` puts
this file there. It installs the bundled pip with ``ensurepip`` and then runs ``pip install``
with the arguments it was given, except those plain ``pip install`` does not accept.
"""

import subprocess
import sys

NOT_FOR_PIP_INSTALL = {"install", "--no-setuptools", "--no-wheel"}

subprocess.run(
    [sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"],
    check=True,
    stdout=subprocess.DEVNULL,
)
arguments = [arg for arg in sys.argv[1:] if arg not in NOT_FOR_PIP_INSTALL]
sys.exit(
    subprocess.run([sys.executable, "-m", "pip", "install", *arguments], check=False).returncode
)
