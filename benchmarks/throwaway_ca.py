"""A throw-away certificate authority for the HTTPS hosts of the loopback farm."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from loopback_farm import BenchError


def make_test_ca(folder: Path, addresses: Sequence[str]) -> tuple[Path, Path]:
    """A throw-away certificate authority and a certificate of its own for every farm
    address (that one IP as subject alternative name, as each site on the real web has its
    own), made with the ``openssl`` command: returns (CA certificate, folder of server
    certificates: ``<address>.pem`` each, one ``key.pem`` for all). Both tools trust the CA
    through ``SSL_CERT_FILE``, with verification on."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    servers = folder / "servers"
    servers.mkdir(exist_ok=True)
    key, request = servers / "key.pem", folder / "farm.csr"
    _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
          "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj",
          "/CN=linkaudit benchmark CA", "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    _run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", str(key), "-out", str(request), "-subj", "/CN=loopback farm"])
    extensions = folder / "server.ext"
    for address in addresses:
        extensions.write_text("basicConstraints=CA:FALSE\n"
                              "keyUsage=digitalSignature,keyEncipherment\n"
                              f"extendedKeyUsage=serverAuth\nsubjectAltName=IP:{address}\n",
                              encoding="ascii")
        _run(["openssl", "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey",
              str(ca_key), "-CAcreateserial", "-out", str(servers / f"{address}.pem"),
              "-days", "2", "-extfile", str(extensions)])
    return ca, servers


def _run(step: list[str]) -> None:
    done = subprocess.run(step, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(step[:2])} failed: {done.stderr.strip()[-500:]}")
