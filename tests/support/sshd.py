"""A real OpenSSH server (Debian's openssh-server, ``/usr/sbin/sshd``) on a free loopback port,
for key logins over SFTP. Its host keys, configuration and authorized keys live in a folder of
its own; the client keys it accepts are generated with ``ssh-keygen`` (ed25519 and RSA, with
and without a passphrase, in OpenSSH's format; RSA in the old PEM format and ECDSA in PKCS#8,
both encrypted; an ed25519 key signed by a user CA the server trusts). It logs in the user
running the tests (root or not) and serves the real file system through ``internal-sftp``."""

from __future__ import annotations

import getpass
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SSHD = shutil.which("sshd", path="/usr/sbin:/usr/local/sbin:" + os.environ.get("PATH", ""))
#: The passphrase of the client keys that have one.
PASSPHRASE = "correct horse battery"
#: The host key types the server offers (each a ``ssh-keyscan -t`` name).
HOST_KEY_TYPES = ("ed25519", "ecdsa", "rsa")


@dataclass(frozen=True)
class ClientKey:
    path: Path
    passphrase: str | None


def _keygen(path: Path, kind: str, passphrase: str = "", *, form: str | None = None) -> Path:
    """A key pair by ``ssh-keygen``: ``path`` and ``path.pub`` (RSA keys of 2048 bits, quick to
    make; ``form``: ``PEM`` or ``PKCS8`` for the private key instead of OpenSSH's format)."""
    extra = (["-b", "2048"] if kind == "rsa" else []) + (["-m", form] if form else [])
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", path.name, "-f", str(path)]
        + extra,
        check=True,
        capture_output=True,
    )
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Sshd:
    def __init__(self, folder: Path, *, start_timeout: float = 15.0) -> None:
        if SSHD is None:
            raise RuntimeError("sshd not found: install openssh-server")
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.username = getpass.getuser()
        self.host_keys = {kind: _keygen(folder / f"host_{kind}", kind) for kind in HOST_KEY_TYPES}
        locked = PASSPHRASE
        self.keys = {
            "ed25519": ClientKey(_keygen(folder / "client_ed25519", "ed25519"), None),
            "ed25519_passphrase": ClientKey(
                _keygen(folder / "client_ed25519_locked", "ed25519", locked), locked
            ),
            "rsa": ClientKey(_keygen(folder / "client_rsa", "rsa"), None),
            "rsa_passphrase": ClientKey(
                _keygen(folder / "client_rsa_locked", "rsa", locked), locked
            ),
            "rsa_pem_passphrase": ClientKey(
                _keygen(folder / "client_rsa_pem", "rsa", locked, form="PEM"), locked
            ),
            "ecdsa_pkcs8_passphrase": ClientKey(
                _keygen(folder / "client_ecdsa_pkcs8", "ecdsa", locked, form="PKCS8"), locked
            ),
        }
        authorized = folder / "authorized_keys"
        authorized.write_text(
            "".join(Path(f"{k.path}.pub").read_text() for k in self.keys.values())
        )
        # A key the server knows only by its certificate (``<key>-cert.pub``, beside it).
        self.user_ca = _keygen(folder / "user_ca", "ed25519")
        certified = _keygen(folder / "client_ed25519_certified", "ed25519")
        subprocess.run(
            ["ssh-keygen", "-q", "-s", str(self.user_ca), "-I", "syncwright-tests"]
            + ["-n", self.username, str(certified) + ".pub"],
            check=True,
            capture_output=True,
        )
        self.keys["ed25519_certificate"] = ClientKey(certified, None)
        authorized.chmod(0o600)
        if os.geteuid() == 0:
            # sshd started as root separates privileges into this folder (which Debian's
            # service unit creates at boot).
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.log: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        for _ in range(5):  # a port taken between choosing it and sshd binding it: another
            self.port = _free_port()
            if self._start(authorized, start_timeout):
                return
        raise RuntimeError("sshd found no free port:\n" + "\n".join(self.log))

    def _start(self, authorized: Path, timeout: float) -> bool:
        config = self.folder / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"ListenAddress 127.0.0.1:{self.port}",
                    *(f"HostKey {path}" for path in self.host_keys.values()),
                    "PidFile none",
                    f"AuthorizedKeysFile {authorized}",
                    f"TrustedUserCAKeys {self.user_ca}.pub",
                    f"AllowUsers {self.username}",
                    "UsePAM no",
                    "StrictModes no",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin prohibit-password",
                    "Subsystem sftp internal-sftp",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def drain() -> None:  # sshd logs to stderr (-e); kept for the failure messages
            assert process.stderr is not None
            for line in process.stderr:
                self.log.append(line.rstrip())
                lines.put(line)
            lines.put(None)

        threading.Thread(target=drain, daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                process.kill()
                process.wait()
                raise RuntimeError(
                    f"sshd did not listen within {timeout:g} s:\n" + "\n".join(self.log)
                ) from None
            if line is None:  # sshd exited
                process.wait()
                if any("Address already in use" in seen for seen in self.log):
                    return False
                raise RuntimeError(
                    f"sshd exited with {process.returncode}:\n" + "\n".join(self.log)
                )
            if f"Server listening on 127.0.0.1 port {self.port}" in line and self._answers():
                self._process = process
                return True

    def _answers(self) -> bool:
        """The port is open and it is this OpenSSH that answers (its banner)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as probe:
            return probe.makefile("rb").readline().startswith(b"SSH-2.0-OpenSSH")

    # -- what a client needs --------------------------------------------------------------------
    def host_key(self, kind: str = "ed25519") -> str:
        """A host key in the plain form: ``ssh-ed25519 AAAA...`` (the ``.pub`` file's first two
        fields)."""
        return " ".join(Path(f"{self.host_keys[kind]}.pub").read_text().split()[:2])

    def keyscan(self, kinds: str = "ed25519", *, hashed: bool = False) -> str:
        """The server's keys of ``kinds`` (``rsa,ecdsa,ed25519``) as ``ssh-keyscan`` prints
        them: known_hosts lines (``[127.0.0.1]:PORT ssh-ed25519 AAAA...``; ``hashed``: with the
        host name hashed, ``|1|...``)."""
        found = subprocess.run(
            ["ssh-keyscan", *(["-H"] if hashed else []), "-p", str(self.port), "-t", kinds]
            + ["127.0.0.1"],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return found.stdout

    def destination(self, key: str = "ed25519", **extra: Any) -> dict[str, Any]:
        """Settings of an sftp destination logging in to this server with a client key."""
        client = self.keys[key]
        settings: dict[str, Any] = {
            "type": "sftp",
            "host": "127.0.0.1",
            "port": self.port,
            "username": self.username,
            "private_key": str(client.path),
            "host_key": self.host_key(),
        }
        if client.passphrase:
            settings["password"] = client.passphrase
        return {**settings, **extra}

    def close(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
