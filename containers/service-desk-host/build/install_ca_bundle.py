"""Installs the RDS CA bundle at image build time, refusing any file whose SHA-256 is not the pin.

Usage: install_ca_bundle.py URL SHA256 DESTINATION. URL "none" installs nothing (an image for
the in-task databases only; the app refuses TLS settings whose CA file is missing). Python's
urllib instead of curl: the image has no curl, and python3 is already in it.
"""

import hashlib
import os
import sys
import urllib.request

MAX_BYTES = 4 * 1024 * 1024  # the global bundle is about 160 KB


def main() -> int:
    url, expected, destination = sys.argv[1:4]
    if url == "none":
        print("RDS CA bundle: not installed (RDS_CA_BUNDLE_URL=none)")
        return 0
    with urllib.request.urlopen(url, timeout=60) as response:
        body = response.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        print(f"RDS CA bundle from {url} is larger than {MAX_BYTES} bytes: refusing it", file=sys.stderr)
        return 1
    actual = hashlib.sha256(body).hexdigest()
    if actual != expected.lower():
        print(
            f"RDS CA bundle from {url} has sha256 {actual}, not the pinned {expected}: refusing it."
            " If AWS has published a new bundle, check it and set RDS_CA_BUNDLE_SHA256 to its sha256.",
            file=sys.stderr,
        )
        return 1
    if b"-----BEGIN CERTIFICATE-----" not in body:
        print(f"RDS CA bundle from {url} holds no PEM certificate: refusing it", file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(destination), mode=0o755, exist_ok=True)
    with open(destination, "wb") as bundle:
        bundle.write(body)
    os.chmod(destination, 0o444)
    print(f"RDS CA bundle: {destination}, sha256 {actual}, {body.count(b'BEGIN CERTIFICATE')} certificates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
