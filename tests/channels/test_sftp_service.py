"""The compose stack's SFTP service (deploy/sftp): its sshd configuration is one Debian's sshd accepts.

Docker cannot run on our machines; what can be checked here is checked: the
configuration with a district block as the entrypoint writes it (`sshd -t`),
and the entrypoint's shell syntax.
"""

from __future__ import annotations

import re
import subprocess

from conftest import REPO

SERVICE = REPO / "deploy" / "sftp"


def test_the_services_sshd_config_with_a_district_block_is_valid(tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "host")], check=True)
    entrypoint = (SERVICE / "entrypoint.sh").read_text(encoding="utf-8")
    block = re.search(r"<<CONF\n(.*?)\nCONF", entrypoint, re.S).group(1)
    (tmp_path / "districts.conf").write_text(
        block.replace("$user", "nobody").replace("$ROOT", "/srv/sftp").replace("$code", "193") + "\n"
    )
    config = (SERVICE / "sshd_config").read_text(encoding="utf-8")
    config = config.replace("/etc/ssh/keys/ssh_host_ed25519_key", str(tmp_path / "host"))
    config = config.replace("/etc/ssh/sshd_config.d/districts.conf", str(tmp_path / "districts.conf"))
    (tmp_path / "sshd_config").write_text(config)

    check = subprocess.run(
        ["/usr/sbin/sshd", "-t", "-f", str(tmp_path / "sshd_config")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    assert "-P setstat,fsetstat" in block  # clients cannot set a file's time: the server's clock is the receipt
    assert "ChrootDirectory $ROOT/$code" in block


def test_the_entrypoint_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(SERVICE / "entrypoint.sh")]).returncode == 0
