"""Uploads each run's feed file to an SFTP server: written under a temporary name, then
renamed, so the endpoint never picks up half a file.

Entries are ``sent`` once the file is uploaded and become ``ok`` when the endpoint confirms:
``picked_up`` (the file has left the folder), ``ack_file`` (a file named like it plus
``ack_suffix`` appears) or ``none`` (the upload is enough). Without a confirmation within
``confirm_timeout`` they fail.
"""

from __future__ import annotations

import base64
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import paramiko
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
    #: A private key file (OpenSSH or PEM); with ``password`` it is the key's passphrase.
    private_key: LocalPath | None = Field(default=None, validate_default=True)
    insecure_skip_host_key_check: bool = False
    #: The server's public key as in ``known_hosts`` (``ssh-ed25519 AAAA...``). Required
    #: unless ``insecure_skip_host_key_check`` is set.
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
        return value

    def resolved(self, base_dir: Path) -> SftpConfig:
        update = {"staging_directory": absolute(self.staging_directory, base_dir)}
        if self.private_key:
            update["private_key"] = absolute(self.private_key, base_dir)
        return self.model_copy(update=update)


def _host_key(line: str) -> paramiko.PKey:
    parts = line.split()
    if len(parts) < 2:
        raise DestinationError("host_key: expected '<key type> <base64 key>'")
    try:
        return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1]))
    except Exception as exc:
        raise DestinationError(f"host_key: {exc}") from exc


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
            ssh.get_host_keys().add(
                f"[{config.host}]:{config.port}" if config.port != 22 else config.host,
                config.host_key.split()[0],
                _host_key(config.host_key),
            )
            ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
        else:
            ssh.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        password = config.password.get_secret_value() if config.password else None
        key = None
        if config.private_key:
            try:
                key = paramiko.PKey.from_path(config.private_key, passphrase=password)
            except Exception as exc:
                raise DestinationError(f"private_key: {exc}") from exc
        try:
            ssh.connect(
                config.host,
                port=config.port,
                username=config.username,
                password=None if key else password,
                pkey=key,
                timeout=config.timeout,
                allow_agent=False,
                look_for_keys=False,
            )
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
