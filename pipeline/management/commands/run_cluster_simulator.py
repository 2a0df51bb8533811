from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pipeline.demo_data import simulator_specs
from pipeline.env import env_int
from pipeline.simulator.files import AdapterSpec
from pipeline.simulator.server import SimulatorConfig, SimulatorServer


class Command(BaseCommand):
    help = "Serve a simulated GPU cluster (the seed's artifact API with real PEFT files)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--api-key", default=None, help="Bearer key to require (default: GPU_CLUSTER_API_KEY).")
        parser.add_argument("--cache-dir", default=str(settings.VAR_DIR / "simulator"))
        parser.add_argument(
            "--adapter-mb",
            type=float,
            default=None,
            help="Approximate adapter size in MiB for jobs outside the demo set (default: every layer of the "
            "base model, as a real run; a size beyond that repeats layers past the model's last one, for "
            "transfer benchmarks only). Demo jobs always get their real adapter.",
        )
        parser.add_argument("--rank", type=int, default=16)
        parser.add_argument(
            "--target-modules",
            default=None,
            help="Comma-separated LoRA target modules for jobs outside the demo set "
            "(default: q_proj,k_proj,v_proj,o_proj; any of those and gate_proj,up_proj,down_proj).",
        )
        parser.add_argument("--latency", type=float, default=0.0, help="Seconds to wait before every answer.")
        parser.add_argument("--error-rate", type=float, default=0.0, help="Share of requests answered 503 (0-1).")
        parser.add_argument(
            "--no-demo-jobs",
            action="store_true",
            help="Serve every job the default adapter instead of what each demo job's hyperparameters ask for.",
        )
        parser.add_argument(
            "--throttle-bytes-per-second",
            type=int,
            default=None,
            help="Cap each file download at this many bytes per second, per connection "
            "(default: SIMULATOR_THROTTLE_BYTES_PER_SECOND, else no cap).",
        )

    def handle(self, *args, **options):
        if not 0 <= options["error_rate"] <= 1:
            raise CommandError("--error-rate must be between 0 and 1.")
        if (options["adapter_mb"] is not None and options["adapter_mb"] <= 0) or options["rank"] <= 0:
            raise CommandError("--adapter-mb and --rank must be positive.")
        throttle = options["throttle_bytes_per_second"]
        if throttle is None:
            throttle = env_int("SIMULATOR_THROTTLE_BYTES_PER_SECOND", 0, minimum=0)
        if throttle < 0:
            raise CommandError("The throttle must be zero (no cap) or a positive number of bytes per second.")
        api_key = options["api_key"] if options["api_key"] is not None else settings.GPU_CLUSTER_API_KEY
        if not api_key:
            raise CommandError("Set GPU_CLUSTER_API_KEY (or pass --api-key): the simulator checks the bearer key.")
        adapter_bytes = None if options["adapter_mb"] is None else max(1, int(options["adapter_mb"] * 1024 * 1024))
        shape: dict[str, Any] = {"rank": options["rank"], "adapter_bytes": adapter_bytes}
        if options["target_modules"]:
            shape["target_modules"] = tuple(m.strip() for m in options["target_modules"].split(",") if m.strip())
        try:
            spec = AdapterSpec(**shape)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        config = SimulatorConfig(
            api_key=api_key,
            cache_root=Path(options["cache_dir"]),
            spec=spec,
            jobs={} if options["no_demo_jobs"] else simulator_specs(),
            latency=options["latency"],
            error_rate=options["error_rate"],
            throttle_bytes_per_second=throttle,
        )
        server = SimulatorServer((options["host"], options["port"]), config)
        capped = f", files capped at {throttle:,} bytes/s per connection" if throttle else ""
        self.stdout.write(f"GPU cluster simulator listening on {server.base_url}{capped}", ending="\n")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
