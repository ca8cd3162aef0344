"""`python -m tests.service.slow_server MODEL_DIR PORT DELAY`: `stance serve`, with a model that is slow.

The real `serve` (uvicorn, signal handling and all) in a process of its own, so that a test can send it
SIGTERM; each model call takes DELAY seconds more, so requests are still in flight when the signal comes.
"""

import sys

from model.labeler import Labeler
from service.main import serve
from tests.service.helpers import SlowLabeler


def main() -> None:
    model_dir, port, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    serve("127.0.0.1", port, model_dir, loader=lambda s: SlowLabeler(Labeler(s.model_dir), delay))


if __name__ == "__main__":
    main()
