"""`python -m local_gateway` as a child process group: started, read until ready, stopped."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from local_gateway.template import ROOT

# What the banner prints, by label: "Gateway: http://127.0.0.1:3000", ...
BANNER_LABELS = ("Gateway", "Talon.One", "Bearer token", "Webhook secret")


@dataclass
class GatewayProcess:
    process: subprocess.Popen[str]
    banner: str
    values: dict[str, str]
    _reader: threading.Thread | None = field(default=None, repr=False)

    @classmethod
    def start(
        cls,
        *,
        workers: int = 4,
        on_output: Callable[[str], None] | None = None,
        timeout: float = 90,
        args: Sequence[str] = (),
    ) -> GatewayProcess:
        """Start it on free ports (unless ``args`` name others), its own process group, an
        environment free of this one's AWS/Talon.One/Powertools settings; then keep reading its
        output (access log, functions' logs), handing each line to ``on_output``, so that it
        never blocks on a full pipe."""
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TALON_", "POWERTOOLS_"))
        }
        command = [sys.executable, "-m", "local_gateway", "--port", "0", "--sandbox-port", "0"]
        process = subprocess.Popen(  # noqa: S603 - our own module, with this interpreter
            [*command, "--workers", str(workers), *args],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("Ready."):
                break
        banner = "\n".join(lines)
        found = {label: re.search(rf"^{label}: (\S+)", banner, re.MULTILINE) for label in BANNER_LABELS}
        values = {label: match.group(1) for label, match in found.items() if match}
        if len(values) != len(BANNER_LABELS):
            os.killpg(process.pid, signal.SIGKILL)
            raise RuntimeError(f"the local gateway did not start:\n{banner}")
        stdout = process.stdout

        def keep_reading() -> None:
            for line in stdout:
                if on_output is not None:
                    on_output(line)

        reader = threading.Thread(target=keep_reading, daemon=True)
        reader.start()
        return cls(process, banner, values, reader)

    @property
    def url(self) -> str:
        return self.values["Gateway"]

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as Ctrl-C would; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        if self._reader is not None:
            self._reader.join(timeout=10)
        return code

    def group_gone(self, within: float = 10) -> bool:
        """Whether every process of its group has exited (helpers such as the forkserver exit
        when they see their parent gone, a moment after it)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.1)
        return False
