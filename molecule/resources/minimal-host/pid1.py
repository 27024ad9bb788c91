"""PID 1 of the minimal test host: starts nothing and only reaps orphans, as `docker run --init` (tini)
does. Without a reaper, a daemon stopped by its init script stays a zombie and "refuses to die"."""
import os
import signal

signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
signal.signal(signal.SIGCHLD, lambda *_: None)  # wake pause() when a child exits
while True:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    signal.pause()
