"""TLS for the OTLP receivers: a server certificate, and with a client CA, mutual TLS (clients must present a
certificate that CA signed). The files are read once at start; a bad file stops serve with its name."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import grpc


class TlsFileError(ValueError):
    """A certificate, key or CA file cannot be used; the message names it."""


@dataclass(frozen=True)
class TlsFiles:
    cert: str
    key: str
    client_ca: str = ""

    @property
    def mutual(self) -> bool:
        return bool(self.client_ca)

    def grpc_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials([(_read(self.key), _read(self.cert))],
                                           root_certificates=_read(self.client_ca) if self.mutual else None,
                                           require_client_auth=self.mutual)

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.cert, self.key)
            if self.mutual:
                context.load_verify_locations(cafile=self.client_ca)
                context.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as error:
            raise TlsFileError(f"cannot use the TLS files (--tls-cert {self.cert}, --tls-key {self.key}"
                               f"{', --tls-client-ca ' + self.client_ca if self.mutual else ''}): {error}") from None
        return context


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise TlsFileError(f"cannot read {path}: {error.strerror or error}") from None
