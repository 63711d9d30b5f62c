"""Settings for bench/api.py's server only: Ombud's own, plus the bench's baseline URL.

Never used in production: the baseline view lives in bench/urls.py, which no deployment routes.
The limits other parts of the settings put on one client (rate limits, DRF throttles) are off,
since the bench is one client on loopback making thousands of requests on purpose; the HTTPS
redirect is off because the bench speaks plain HTTP to gunicorn on 127.0.0.1.
"""

from config.settings import *  # noqa: F403 - the bench runs Ombud's settings, changed below
from config.settings import OMBUD_RATE_LIMITS, REST_FRAMEWORK

ROOT_URLCONF = "bench.urls"
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
OMBUD_RATE_LIMITS = dict.fromkeys(OMBUD_RATE_LIMITS, "")
REST_FRAMEWORK = {
    key: value
    for key, value in REST_FRAMEWORK.items()
    if key not in {"DEFAULT_THROTTLE_CLASSES", "DEFAULT_THROTTLE_RATES"}
}
