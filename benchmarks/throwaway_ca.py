"""A throw-away certificate authority for the HTTPS hosts of the loopback farm."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from loopback_farm import BenchError


def make_test_ca(folder: Path, addresses: Sequence[str]) -> tuple[Path, Path, Path]:
    """A throw-away certificate authority and one server certificate for every farm
    address (IP subject alternative names), made with the ``openssl`` command: returns
    (CA certificate, server certificate chain, server key). Both tools trust the CA
    through ``SSL_CERT_FILE``, with verification on, as on the real web."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, request = folder / "farm.pem", folder / "farm.key", folder / "farm.csr"
    extensions = folder / "farm.ext"
    extensions.write_text("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                          "extendedKeyUsage=serverAuth\nsubjectAltName="
                          + ",".join(f"IP:{a}" for a in addresses) + "\n", encoding="ascii")
    steps = [
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj",
         "/CN=linkaudit benchmark CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(request), "-subj", "/CN=loopback farm"],
        ["openssl", "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key),
         "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(extensions)],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchError(f"{' '.join(step[:2])} failed: {done.stderr.strip()[-500:]}")
    return ca, cert, key
