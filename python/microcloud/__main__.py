"""python3 -m microcloud: mcquery."""
from .cli import run

run()
