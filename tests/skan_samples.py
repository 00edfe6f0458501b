"""Apple's signed SKAdNetwork postback samples (specs §8.3, verified with Apple's key), as
parsed JSON; tests/e2e/test_mobile.py keeps their wire bytes."""

from __future__ import annotations

from typing import Any

# The verified samples of specs §8.3, verbatim.
SAMPLE_40: dict[str, Any] = {
    "version": "4.0", "ad-network-id": "com.example", "source-identifier": "39",
    "app-id": 525463029, "transaction-id": "6aafb7a5-0170-41b5-bbe4-fe71dedf1e31",
    "redownload": False, "source-domain": "example.com", "fidelity-type": 1, "did-win": True,
    "coarse-conversion-value": "high", "postback-sequence-index": 0,
    "attribution-signature": "MEUCIQD4rX6eh38qEhuUKHdap345UbmlzA7KEZ1bhWZuYM8MJwIgMnyiiZe6heabD"
    "kGwOaKBYrUXQhKtF3P/ERHqkR/XpuA=",
}  # fmt: skip
SAMPLE_30: dict[str, Any] = {
    "version": "3.0", "ad-network-id": "example123.skadnetwork", "campaign-id": 42,
    "transaction-id": "6aafb7a5-0170-41b5-bbe4-fe71dedf1e28", "app-id": 525463029,
    "attribution-signature": "MEYCIQD5eq3AUlamORiGovqFiHWI4RZT/PrM3VEiXUrsC+M51wIhAPMANZA9c07ra"
    "ZJ64gVaXhB9+9yZj/X6DcNxONdccQij",
    "redownload": True, "source-app-id": 1234567891, "fidelity-type": 1, "conversion-value": 20,
    "did-win": True,
}  # fmt: skip
