"""Uploads each run's feed file to an SFTP server: written under a temporary name, then
renamed, so the endpoint never picks up half a file.

Entries are ``sent`` once the file is uploaded and become ``ok`` when the endpoint confirms:
``picked_up`` (the file has left the folder), ``ack_file`` (a file named like it plus
``ack_suffix`` appears) or ``none`` (the upload is enough). Without a confirmation within
``confirm_timeout`` they fail.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import paramiko
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pydantic import Field, SecretStr, ValidationInfo, field_validator

from syncwright.connectors.files.feed import FeedSettings, FeedWriter, StagedFileDestination
from syncwright.connectors.files.formats import absolute
from syncwright.domain.errors import DestinationError
from syncwright.sdk import (
    Capabilities,
    LocalPath,
    Publication,
    RunInfo,
)


class SftpConfig(FeedSettings):
    host: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(min_length=1)
    password: SecretStr | None = None
    #: A private key file (OpenSSH or PEM); ``password`` is its passphrase if it is encrypted.
    private_key: LocalPath | None = Field(default=None, validate_default=True)
    insecure_skip_host_key_check: bool = False
    #: The server's public key: a ``known_hosts`` line as ``ssh-keyscan`` prints it
    #: (``[host]:port ssh-ed25519 AAAA...``), several such lines, or the key alone
    #: (``ssh-ed25519 AAAA...``). Required unless ``insecure_skip_host_key_check`` is set.
    host_key: str | None = Field(default=None, validate_default=True)
    #: The folder on the server the files go to.
    remote_directory: str = "."
    confirm: Literal["none", "picked_up", "ack_file"] = "picked_up"
    ack_suffix: str = ".ok"
    confirm_timeout: float = Field(default=3600.0, gt=0)
    confirm_interval: float = Field(default=30.0, gt=0)
    #: A local folder where files are built and kept as the runs' artifacts.
    staging_directory: LocalPath = Field(
        default_factory=lambda: str(Path(tempfile.gettempdir()) / "syncwright-sftp")
    )
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("private_key")
    @classmethod
    def _can_log_in(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("password") is None:
            raise ValueError("set a password or a private_key")
        return value

    @field_validator("host_key")
    @classmethod
    def _known_host(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and not info.data.get("insecure_skip_host_key_check"):
            raise ValueError(
                "set host_key to the server's public key (or insecure_skip_host_key_check)"
            )
        if value is not None:
            host_keys(value)  # refused here, with the field, rather than at the first run
        return value

    def resolved(self, base_dir: Path) -> SftpConfig:
        update = {"staging_directory": absolute(self.staging_directory, base_dir)}
        if self.private_key:
            update["private_key"] = absolute(self.private_key, base_dir)
        return self.model_copy(update=update)


#: What a key type looks like (``ssh-ed25519``, ``ecdsa-sha2-nistp256``, ``ssh-dss``...).
_KEY_TYPE = re.compile(r"(ssh|ecdsa|sk|rsa)-[A-Za-z0-9@.-]+")


def _key_types() -> frozenset[str]:
    return frozenset(name for cls in paramiko.key_classes for name in cls.identifiers())


def host_keys(text: str) -> list[paramiko.PKey]:
    """The public keys in ``host_key``: one per line, each a ``known_hosts`` line (host names,
    key type, base64 key, comment; hashed host names too) or a key alone (type, base64 key,
    comment). Host names are not read: the keys are trusted for the configured host and
    port. Raises ValueError saying what is wrong with which line."""
    known = _key_types()
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        where = f"line {number}: " if len(text.strip().splitlines()) > 1 else ""
        if fields[0].startswith("@"):
            raise ValueError(f"{where}{fields[0]} lines are not host keys: give the server's key")
        if (
            fields[0] not in known
            and len(fields) > 1
            and (fields[1] in known or _KEY_TYPE.fullmatch(fields[1]))
        ):
            fields = fields[1:]  # the host names first, as in known_hosts
        if len(fields) < 2:
            raise ValueError(
                f"{where}expected a known_hosts line ('[host]:port ssh-ed25519 AAAA...')"
                " or a key ('ssh-ed25519 AAAA...')"
            )
        kind, data = fields[0], fields[1]
        if kind not in known:
            plain = sorted(name for name in known if "-cert-" not in name)
            raise ValueError(f"{where}unknown key type {kind!r} (known: {', '.join(plain)})")
        try:
            blob = base64.b64decode(data, validate=True)
        except binascii.Error:
            raise ValueError(f"{where}the {kind} key is not valid base64") from None
        try:
            keys.append(paramiko.PKey.from_type_string(kind, blob))
        except Exception as exc:
            raise ValueError(f"{where}not a valid {kind} key: {exc}") from None
    if not keys:
        raise ValueError("no key found; give the server's key ('ssh-ed25519 AAAA...')")
    return keys


#: The private keys paramiko logs in with, by the type ``cryptography`` reads them as.
_KEY_CLASSES: tuple[tuple[type[Any], type[paramiko.PKey]], ...] = (
    (ed25519.Ed25519PrivateKey, paramiko.Ed25519Key),
    (ec.EllipticCurvePrivateKey, paramiko.ECDSAKey),
    (rsa.RSAPrivateKey, paramiko.RSAKey),
)


def private_key(path: str, passphrase: str | None) -> tuple[paramiko.PKey, bool]:
    """The key in ``path`` (OpenSSH, or PEM: PKCS#1, SEC1 or PKCS#8, encrypted or not), and
    whether ``passphrase`` opened it (a key that is not encrypted needs none, and then the
    password is left for the login). Raises DestinationError naming the fields.

    The file is read with ``cryptography`` (paramiko's own readers differ between versions
    and do not read encrypted PKCS#8), then handed to paramiko unencrypted, in memory."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DestinationError(f"private_key {path}: {exc.strerror or exc}") from exc
    openssh = b"-----BEGIN OPENSSH PRIVATE KEY-----" in data
    load = serialization.load_ssh_private_key if openssh else serialization.load_pem_private_key
    secret = passphrase.encode() if passphrase else None
    try:
        try:
            loaded, opened = load(data, password=secret), secret is not None
        except TypeError:  # a passphrase for a key that has none, or none for one that has
            if secret is None:
                raise DestinationError(
                    f"private_key {path} is encrypted: set password to its passphrase"
                ) from None
            loaded, opened = load(data, password=None), False
    except ValueError as exc:
        if secret is not None and _encrypted(load, data):
            raise DestinationError(
                f"private_key {path}: wrong passphrase (password does not open the key)"
            ) from None
        if data.lstrip().startswith((b"ssh-", b"ecdsa-")):
            raise DestinationError(
                f"private_key {path} is a public key: give the private key's file"
            ) from None
        detail = f" ({exc})" if openssh else ""  # the PEM reader's says only 'unable to load'
        raise DestinationError(
            f"private_key {path} is not an OpenSSH or PEM private key{detail}"
        ) from None
    except UnsupportedAlgorithm as exc:
        raise DestinationError(f"private_key {path}: {exc}") from None
    key_class = next((c for kind, c in _KEY_CLASSES if isinstance(loaded, kind)), None)
    if key_class is None:
        kind = type(loaded).__name__.removesuffix("PrivateKey")
        raise DestinationError(
            f"private_key {path}: {kind} keys are not supported (use ed25519, ecdsa or RSA)"
        )
    try:
        plain = loaded.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        key = key_class.from_private_key(io.StringIO(plain.decode()))
    except (ValueError, paramiko.SSHException) as exc:
        raise DestinationError(f"private_key {path}: {exc}") from None
    certificate = Path(f"{path}-cert.pub")  # as ssh does: a certificate beside the key
    if certificate.exists():
        try:
            key.load_certificate(str(certificate))
        except (OSError, ValueError) as exc:
            raise DestinationError(f"private_key {path}: {certificate.name}: {exc}") from None
    return key, opened


def _encrypted(load: Any, data: bytes) -> bool:
    """Whether the key file refuses to open without a passphrase."""
    try:
        load(data, password=None)
    except TypeError:
        return True
    except ValueError:
        return False
    return False


class SftpDestination(StagedFileDestination):
    type = "sftp"
    config_class = SftpConfig
    supports = Capabilities(
        incremental=True, full=True, deletes=True, file_output=True, confirmation=True
    )
    config: SftpConfig

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        staging = Path(self.config.staging_directory) / self.config.host
        self.writer = FeedWriter(self.config, staging)
        self._ssh: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    # -- connection -------------------------------------------------------------------------
    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is not None:
            return self._sftp
        config = self.config
        ssh = paramiko.SSHClient()
        if config.host_key:
            known = f"[{config.host}]:{config.port}" if config.port != 22 else config.host
            for host_key in host_keys(config.host_key):
                ssh.get_host_keys().add(known, host_key.get_name(), host_key)
            ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
        else:
            ssh.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        password = config.password.get_secret_value() if config.password else None
        key = None
        if config.private_key:
            key, opened = private_key(config.private_key, password)
            if opened:
                password = None  # the key's passphrase, not a login password
        try:
            ssh.connect(
                config.host,
                port=config.port,
                username=config.username,
                password=password,
                pkey=key,
                timeout=config.timeout,
                allow_agent=False,
                look_for_keys=False,
            )
        except paramiko.BadHostKeyException as exc:
            ssh.close()
            raise DestinationError(
                f"sftp://{config.host}:{config.port}: BadHostKeyException: the server's"
                f" {exc.key.get_name()} key ({exc.key.fingerprint}) is not the one in host_key"
                f" ({exc.expected_key.fingerprint}); refused"
            ) from exc
        except (paramiko.SSHException, OSError) as exc:
            ssh.close()
            raise DestinationError(
                f"sftp://{config.host}:{config.port}: {type(exc).__name__}: {exc}"
            ) from exc
        self._ssh, self._sftp = ssh, ssh.open_sftp()
        return self._sftp

    def close(self) -> None:
        if self._ssh is not None:
            self._ssh.close()
        self._ssh = self._sftp = None

    def check(self) -> None:
        try:
            self.sftp().stat(self.config.remote_directory)
        except OSError as exc:
            raise DestinationError(
                f"remote_directory {self.config.remote_directory}: {exc}"
            ) from exc

    # -- writing ----------------------------------------------------------------------------
    def _remote(self, name: str) -> str:
        return f"{self.config.remote_directory.rstrip('/')}/{name}"

    def publish(self, run: RunInfo) -> Publication:
        final, rows = self.writer.publish(run)
        remote = self._remote(final.name)
        try:
            self._upload(final, remote)
        except (OSError, paramiko.SSHException) as exc:
            raise DestinationError(f"upload of {final.name} failed: {exc}") from exc
        config = self.config
        return replace(
            self._publication(final, rows),
            location=f"sftp://{config.host}:{config.port}/{remote.lstrip('/')}",
            awaiting_confirmation=config.confirm != "none",
            confirm_timeout=config.confirm_timeout,
            confirm_interval=config.confirm_interval,
            handle={"remote": remote},
        )

    def _upload(self, local: Path, remote: str) -> None:
        sftp = self.sftp()
        temporary = self._remote(f".{local.name}.part")
        sftp.put(str(local), temporary, confirm=True)
        try:
            sftp.posix_rename(temporary, remote)
        except OSError:  # servers without the posix-rename extension
            if self._exists(remote):
                sftp.remove(remote)
            sftp.rename(temporary, remote)

    def _exists(self, path: str) -> bool:
        try:
            self.sftp().stat(path)
        except FileNotFoundError:
            return False
        return True

    def confirm(self, publication: Publication) -> bool:
        remote = str(publication.handle["remote"])
        if self.config.confirm == "picked_up":
            return not self._exists(remote)
        if self.config.confirm == "ack_file":
            return self._exists(remote + self.config.ack_suffix)
        return True
