"""Worker processes, started once, that import only the albert_tf modules they use.

`import albert_tf` loads TensorFlow and Keras (about 4 s, a few hundred MB):
the package registers its Keras objects on import. Data workers need none of
it: tokenizing, masking and writing records use SentencePiece and numpy
(`albert_tf.data.records` writes TFRecords without TensorFlow). So a worker
is a fresh interpreter (`python -c`, no fork of a parent that holds
TensorFlow's threads) in which `albert_tf` is registered as a package whose
`__init__` is not run; its submodules then import as usual, and only those a
task needs are loaded (tested: no `tensorflow` or `keras` in a worker's
`sys.modules` after writing a shard).

Tasks and results travel pickled over the worker's stdin and stdout, each
frame prefixed by its length; the worker's own stdout is moved to stderr so
that a stray print cannot corrupt the stream. Each worker has two tasks in
flight (the next one waits in its pipe) until the last few tasks, which go one
at a time to whichever process is free; it reads requests ahead on a thread
(so that neither side can block the other on full pipes), and the pipes hold
1 MiB where Linux allows, so a worker writes a large result and goes on. A
worker exits when its stdin closes, and on Linux also when the parent dies
(`PR_SET_PDEATHSIG`).
"""

from __future__ import annotations

import collections
import json
import logging
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
import traceback
from typing import IO, Any, Callable, Iterable, Iterator, TypeVar

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_HEADER = struct.Struct("<Q")
_ITEMS_IN_FLIGHT = 2  # per worker: the one it works on and the next
_PIPE_BYTES = 1 << 20
# Runs in the worker: `albert_tf` as a package whose __init__ (TensorFlow, Keras) never runs.
_BOOTSTRAP = """\
import importlib.util, json, os, sys
sys.path[:] = json.loads(sys.argv[1])
spec = importlib.util.spec_from_file_location(
    "albert_tf", os.path.join(sys.argv[2], "__init__.py"), submodule_search_locations=[sys.argv[2]])
sys.modules["albert_tf"] = importlib.util.module_from_spec(spec)
from albert_tf.data.worker_pool import serve
serve(int(sys.argv[3]))
"""


class WorkerDiedError(RuntimeError):
    """A worker process ended without answering (killed, out of memory, crashed)."""


class LightProcessPool:
    """`num_workers` processes that run `function(state, item)`, `state = initializer(*initargs)`.

    `initializer`, `function`, items and results must be picklable, and the
    functions must live in albert_tf modules that do not import TensorFlow
    (or in other importable modules). Use as a context manager.

    Args:
        num_workers: processes to start (all at once, in parallel).
        initializer: builds each worker's state once, in the worker.
        initargs: its arguments.
    """

    def __init__(self, num_workers: int, initializer: Callable[..., Any], initargs: tuple = ()):
        if num_workers < 1:
            raise ValueError(f"`num_workers` must be >= 1. Received: num_workers={num_workers}")
        self._processes: list[subprocess.Popen] = []
        self._closed = False
        try:
            for _ in range(num_workers):
                # -S: no `site` (.pth files, an editable install's import hook: ~30 ms of each worker's
                # start); the worker gets this process's sys.path instead.
                self._processes.append(subprocess.Popen(
                    [sys.executable, "-S", "-c", _BOOTSTRAP, json.dumps(sys.path), _PACKAGE_DIR, str(os.getpid())],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                ))
                for pipe in (self._processes[-1].stdin, self._processes[-1].stdout):
                    _widen(pipe)
            for worker in range(num_workers):
                self._send(worker, ("init", initializer, initargs))
        except BaseException:
            self.close(kill=True)
            raise

    @property
    def pids(self) -> list[int]:
        """The workers' process ids."""
        return [process.pid for process in self._processes]

    def imap_unordered(self, function: Callable[[Any, Item], Result], items: Iterable[Item],
                       local: Callable[[Item], Result] | None = None) -> Iterator[Result]:
        """`function(state, item)` for every item, each worker taking the next item when it is free.

        Args:
            function: what a worker runs on each item.
            items: iterated under a lock (one thread at a time), lazily.
            local: if given, this process works too, running `local(item)`
                on the items it takes (between them it yields what the
                workers finished). The caller then is one more worker, which
                saves starting a process for it.

        Yields:
            Results in the order they finish. An exception raised by
            `function` is raised here (same type and message; the worker's
            traceback is attached as a note), and then no new item is taken.
        """
        consumers = len(self._processes) + (local is not None)
        # Looks far enough ahead to see the last items coming.
        source = _SharedIterator(items, lookahead=consumers * _ITEMS_IN_FLIGHT)
        finished: queue.Queue = queue.Queue()

        def feed(worker: int) -> None:
            # One item waits in the worker's pipe while it works on another: the next one is there
            # when it is done, without waiting for this thread to get the GIL back from busy threads.
            # Not so for the last few items: one queued behind another would keep this worker busy
            # after the other processes ran out of work.
            waiting: collections.deque = collections.deque()
            try:
                for item in source:
                    self._send(worker, ("call", function, item))
                    waiting.append(item)
                    while waiting and (len(waiting) == _ITEMS_IN_FLIGHT or source.ending()):
                        finished.put(("ok", self._receive(worker, waiting.popleft())))
                while waiting:
                    finished.put(("ok", self._receive(worker, waiting.popleft())))
            except BaseException as error:  # handed to the consuming thread, which raises it
                source.stop()
                finished.put(("error", error))
            finally:
                finished.put(("done", None))

        feeders = [threading.Thread(target=feed, args=(worker,), name=f"albert-worker-{worker}", daemon=True)
                   for worker in range(len(self._processes))]
        for feeder in feeders:
            feeder.start()
        running = len(feeders)
        try:
            if local is not None:
                for item in source:
                    yield local(item)
                    while not finished.empty():
                        running -= yield from _unpack(finished.get())
            while running:
                running -= yield from _unpack(finished.get())
        finally:
            source.stop()

    def loaded_modules(self) -> list[list[str]]:
        """Each worker's `sys.modules` names (to check what a worker imported)."""
        return [self._request(worker, ("modules",), None) for worker in range(len(self._processes))]

    def close(self, kill: bool = False) -> None:
        """Ends the workers: closes their input and waits (or kills them at once with `kill`)."""
        if self._closed:
            return
        self._closed = True
        for process in self._processes:
            if kill:
                process.kill()
            try:
                process.stdin.close()
            except OSError:  # the worker is gone: its pipe is broken
                pass
        for process in self._processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                logger.warning("worker process %d did not exit; killing it", process.pid)
                process.kill()
                process.wait()
            process.stdout.close()

    def __enter__(self) -> "LightProcessPool":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # On an error (or Ctrl-C) the workers' unfinished tasks are of no use: kill them.
        self.close(kill=exc_type is not None)

    def _request(self, worker: int, message: tuple, item) -> Any:
        self._send(worker, message)
        return self._receive(worker, item)

    def _receive(self, worker: int, item) -> Any:
        """The worker's answer to its oldest unanswered request (about `item`, named if it dies)."""
        process = self._processes[worker]
        try:
            frame = _read_frame(process.stdout)
        except (ConnectionResetError, ValueError):  # ValueError: the pool closed the pipe
            frame = None
        if frame is None:
            try:
                code = process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                code = None
            what = f" while working on {_describe(item)}" if item is not None else ""
            raise WorkerDiedError(f"Worker process {process.pid} ended (exit code {code}){what}.")
        kind, value = pickle.loads(frame)
        if kind == "error":
            raise value
        return value

    def _send(self, worker: int, message: tuple) -> None:
        try:
            _write_frame(self._processes[worker].stdin, message)
        except (BrokenPipeError, ConnectionResetError, ValueError):
            pass  # the worker is gone (or the pool closed): reading its answer says so


class _SharedIterator:
    """An iterator that threads can share: one `next` at a time; `stop` ends it for all.

    It reads `lookahead` items ahead, so `ending` can tell when no more than
    that are left. An error raised by `items` is raised in its turn, after
    the items before it."""

    def __init__(self, items: Iterable, lookahead: int = 0):
        self._items = iter(items)
        self._lookahead = lookahead
        self._ahead: collections.deque = collections.deque()
        self._error: BaseException | None = None
        self._exhausted = False
        self._lock = threading.Lock()
        self._stopped = False

    def __iter__(self):
        return self

    def __next__(self):
        with self._lock:
            if self._stopped:
                raise StopIteration
            # One more than `lookahead` stays read ahead, so that `ending` is exact.
            while not self._exhausted and len(self._ahead) <= self._lookahead + 1:
                try:
                    self._ahead.append(next(self._items))
                except StopIteration:
                    self._exhausted = True
                except Exception as error:
                    self._error, self._exhausted = error, True
                except BaseException:  # Ctrl-C: at once
                    self._stopped = True
                    raise
            if self._ahead:
                return self._ahead.popleft()
            self._stopped = True
            if self._error is not None:
                raise self._error
            raise StopIteration

    def ending(self) -> bool:
        """Whether at most `lookahead` items are left."""
        with self._lock:
            return self._exhausted or self._stopped

    def stop(self) -> None:
        self._stopped = True


def _unpack(message: tuple):
    """Yields a feeder's result; returns 1 when the feeder is done (0 otherwise)."""
    kind, value = message
    if kind == "error":
        raise value
    if kind == "done":
        return 1
    yield value
    return 0


def _describe(item) -> str:
    text = str(item)
    return text if len(text) < 200 else text[:200] + "..."


def _widen(pipe: IO[bytes]) -> None:
    """Lets a pipe hold a whole item or result (1 MiB, not 64 KiB; Linux only, best effort).

    A worker then writes its result and goes on to the next item at once, instead of waiting, pipe
    buffer after pipe buffer, for a parent thread that must win the GIL from busy threads to read
    each one (measured: a worker idle about a quarter of the time with results of ~200 KB)."""
    set_pipe_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_pipe_size is None:
        return
    try:
        fcntl.fcntl(pipe.fileno(), set_pipe_size, _PIPE_BYTES)
    except OSError:  # over the user's pipe quota (/proc/sys/fs/pipe-max-size): the default still works
        pass


def _read_frame(stream: IO[bytes]) -> bytes | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    return data if len(data) == size else None


def _write_frame(stream: IO[bytes], message: tuple) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def serve(parent_pid: int) -> None:
    """The worker's loop (run by the bootstrap): answers tasks from stdin on stdout until stdin closes."""
    die_with_parent(parent_pid)
    # Ctrl-C reaches the whole process group: the parent decides, the worker carries on until told.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # prints go to stderr, not into the replies
    # Requests are read ahead by a thread: the parent may send the next one while this process
    # writes a reply, and if neither read, both pipes would fill and wait on each other.
    frames: queue.Queue = queue.Queue()

    def read_requests() -> None:
        while True:
            frame = _read_frame(requests)
            frames.put(frame)
            if frame is None:
                return

    threading.Thread(target=read_requests, name="albert-requests", daemon=True).start()
    state = None
    while True:
        frame = frames.get()
        if frame is None:
            # Every task's files are closed and every reply flushed: skip the interpreter's
            # teardown (tens of ms that the parent would wait for at the end of a run).
            sys.stderr.flush()
            os._exit(0)
        request = pickle.loads(frame)
        try:
            if request[0] == "init":
                _, initializer, initargs = request
                state = initializer(*initargs)
                continue
            if request[0] == "modules":
                reply: tuple = ("ok", sorted(sys.modules))
            else:
                _, function, item = request
                reply = ("ok", function(state, item))
        except Exception as error:  # sent to the parent, which raises it
            error.add_note(f"(in worker process {os.getpid()})\n{traceback.format_exc()}")
            reply = ("error", error)
        try:
            _write_frame(replies, reply)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            _write_frame(replies, ("error", RuntimeError(f"{reply[1]!r} (unpicklable: {error})")))
        if request[0] == "init":  # an initializer that failed: nothing else can work
            return


def die_with_parent(parent_pid: int) -> None:
    """Makes the kernel SIGKILL this process when its parent dies (Linux).

    Without it, killing `albert create-data --num-workers N` could leave its
    workers running. Elsewhere this is a no-op (the workers still exit when
    their stdin closes).
    """
    import ctypes

    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)
