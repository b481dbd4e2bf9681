"""What the webhook code needs from the configuration, as one value passed in by the caller."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Settings:
    fernet_key: bytes
    allow_http: bool = False
    allowed_networks: tuple = ()
    retry_schedule_s: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
    retry_jitter: float = 0.1
    connect_timeout_s: float = 5
    attempt_timeout_s: float = 15
    response_log_bytes: int = 1024
    disable_after_failing_s: int = 432000
    secret_overlap_s: int = 86400
    poll_interval_s: float = 0.5
    batch_size: int = 16

    @classmethod
    def from_config(cls, section: Mapping, fernet_key: bytes) -> "Settings":
        """From the validated `[webhook]` config section."""
        return cls(fernet_key=fernet_key, allow_http=section["allow_http"],
                   allowed_networks=tuple(ipaddress.ip_network(n, strict=False)
                                          for n in section["allowed_networks"]),
                   retry_schedule_s=tuple(section["retry_schedule_s"]),
                   retry_jitter=section["retry_jitter"],
                   connect_timeout_s=section["connect_timeout_s"],
                   attempt_timeout_s=section["attempt_timeout_s"],
                   response_log_bytes=section["response_log_bytes"],
                   disable_after_failing_s=section["disable_after_failing_s"],
                   secret_overlap_s=section["secret_overlap_s"],
                   poll_interval_s=section["poll_interval_s"],
                   batch_size=section["batch_size"])
