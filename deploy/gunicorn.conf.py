"""gunicorn settings for ``deploy/run web`` (command-line arguments override them).

Threaded workers: a slow client or a long download holds one thread, not a whole process, and
the worker keeps answering the arbiter's heartbeat, so ``timeout`` only catches a hung worker.
"""

import multiprocessing
import os

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", str(multiprocessing.cpu_count() * 2 + 1)))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (jittered so they do not all restart at once).
max_requests = 2000
max_requests_jitter = 200
# Requests arrive through a TLS-terminating proxy; trust its X-Forwarded-* from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("WEB_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
