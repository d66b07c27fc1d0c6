"""Aviary python bootstrap.

Runs inside a sandboxed process, loads one AWS-Lambda-style handler (``def handler(event,
context)``) and answers invocations over the host channel described in ../PROTOCOL.md:
fd 3 host -> runtime, fd 4 runtime -> host, one JSON message per line.

Python 3.9+, standard library only. Started as ``python3 bootstrap.py``.
"""

import io
import json
import os
import sys
import time
import _thread

IN_FD = 3
OUT_FD = 4
# Deployed code is immutable and may be shared by instances: never write __pycache__ into it.
sys.dont_write_bytecode = True
# A partial output line longer than this is emitted as a line of its own.
MAX_PARTIAL = 256 * 1024

_BOOTSTRAP_FILE = os.path.abspath(__file__)
_quote = json.encoder.encode_basestring_ascii  # str -> JSON string literal (C implementation)

# ---------------------------------------------------------------------------------------------
# Output channel (fd 4), written synchronously so nothing is lost on os._exit() or a crash.

_send_lock = _thread.allocate_lock()


def _send(text):
    """Writes one or more complete frames (each ending in a newline) to fd 4."""
    data = text.encode("utf-8", "surrogatepass")
    with _send_lock:
        view = memoryview(data)
        total = len(data)
        off = 0
        while off < total:
            try:
                off += os.write(OUT_FD, view[off:])
            except BlockingIOError:
                # fd 4 was handed to us non-blocking: wait until it is writable.
                import select

                select.select([], [OUT_FD], [], 1.0)
            except OSError:
                # The host is gone (EPIPE, EBADF): nobody can receive an answer any more.
                os._exit(1)


_send('{"t":"hello","runtime":"python","pid":%d}\n' % os.getpid())

# ---------------------------------------------------------------------------------------------
# Output capture: sys.stdout / sys.stderr (print, logging, tracebacks) become log frames.

# JSON of the request id that log lines belong to ("null" during init).
_id_json = "null"


class _Capture(io.TextIOBase):
    """A text stream that turns every line written to it into a log frame."""

    def __init__(self, stream, fd):
        super().__init__()
        self._stream = stream
        self._tail = ',"stream":"%s","data":' % stream
        self._fd = fd
        self._parts = []  # text written since the last newline
        self._plen = 0
        self.buffer = _BinaryCapture(self)

    # --- the text-stream surface user code and libraries look at ---
    @property
    def name(self):
        return "<%s>" % self._stream

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "strict"

    @property
    def line_buffering(self):
        return True

    def writable(self):
        return True

    def readable(self):
        return False

    def seekable(self):
        return False

    def isatty(self):
        return False

    def fileno(self):
        return self._fd

    def flush(self):
        pass  # complete lines are sent at once; partial lines wait for a newline or the answer

    def close(self):
        pass  # closing the captured stream would lose later output

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        nl = s.find("\n")
        if nl == -1:
            if s:
                self._parts.append(s)
                self._plen += len(s)
                if self._plen > MAX_PARTIAL:
                    self.flush_partial()
            return len(s)
        tail = self._tail
        head = _id_json
        if self._parts:
            self._parts.append(s[:nl])
            first = "".join(self._parts)
            self._parts = []
            self._plen = 0
        else:
            first = s[:nl]
        out = ['{"t":"log","id":', head, tail, _quote(first), "}\n"]
        start = nl + 1
        nl = s.find("\n", start)
        while nl != -1:
            out.append('{"t":"log","id":')
            out.append(head)
            out.append(tail)
            out.append(_quote(s[start:nl]))
            out.append("}\n")
            start = nl + 1
            nl = s.find("\n", start)
        if start < len(s):
            self._parts.append(s[start:])
            self._plen = len(s) - start
        _send("".join(out))
        return len(s)

    def flush_partial(self):
        if self._parts:
            line = "".join(self._parts)
            self._parts = []
            self._plen = 0
            _send('{"t":"log","id":' + _id_json + self._tail + _quote(line) + "}\n")


class _BinaryCapture(io.RawIOBase):
    """``sys.stdout.buffer``: bytes are decoded as UTF-8 and captured like text."""

    def __init__(self, text):
        super().__init__()
        self._text = text
        self._decoder = None

    def writable(self):
        return True

    def fileno(self):
        return self._text.fileno()

    def close(self):
        pass

    def write(self, b):
        if self._decoder is None:
            import codecs

            self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._text.write(self._decoder.decode(bytes(b)))
        return len(b)


_stdout = _Capture("stdout", 1)
_stderr = _Capture("stderr", 2)
sys.stdout = _stdout
sys.stderr = _stderr


def _flush_partials():
    _stdout.flush_partial()
    _stderr.flush_partial()


# ---------------------------------------------------------------------------------------------
# Errors


class _RuntimeFault(Exception):
    """An error raised by the runtime itself (Runtime.*)."""

    def __init__(self, error_type, message, stack_trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace


def _stack_trace(tb):
    import traceback

    frames = [
        f
        for f in traceback.extract_tb(tb)
        if f.filename != _BOOTSTRAP_FILE and not f.filename.startswith("<frozen importlib")
    ]
    return traceback.format_list(frames)


def _error_obj(exc):
    """Lambda's Python error shape: errorType, errorMessage, stackTrace."""
    if isinstance(exc, _RuntimeFault):
        return {
            "errorType": exc.error_type,
            "errorMessage": exc.message,
            "stackTrace": exc.stack_trace if exc.stack_trace is not None else [],
        }
    try:
        message = str(exc)
    except Exception:
        message = "<exception str() failed>"
    try:
        trace = _stack_trace(exc.__traceback__)
    except Exception:
        trace = []
    return {"errorType": type(exc).__name__, "errorMessage": message, "stackTrace": trace}


# ---------------------------------------------------------------------------------------------
# Handler context


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, data):
        self.cognito_identity_id = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, data):
        self.installation_id = data.get("installation_id")
        self.app_title = data.get("app_title")
        self.app_version_name = data.get("app_version_name")
        self.app_version_code = data.get("app_version_code")
        self.app_package_name = data.get("app_package_name")


class ClientContext:
    __slots__ = ("client", "custom", "env")

    def __init__(self, data):
        client = data.get("client")
        self.client = Client(client) if isinstance(client, dict) else None
        self.custom = data.get("custom")
        self.env = data.get("env")


class LambdaContext:
    __slots__ = (
        "aws_request_id",
        "function_name",
        "function_version",
        "invoked_function_arn",
        "memory_limit_in_mb",
        "log_group_name",
        "log_stream_name",
        "client_context",
        "identity",
        "_deadline_ms",
    )

    def __init__(self, msg):
        self.aws_request_id = _current_id
        self.function_name = _fn["function_name"]
        self.function_version = _fn["function_version"]
        self.invoked_function_arn = msg.get("invokedFunctionArn") or _fn["invoked_function_arn"]
        self.memory_limit_in_mb = _fn["memory_limit_in_mb"]
        self.log_group_name = _fn["log_group_name"]
        self.log_stream_name = _fn["log_stream_name"]
        cc = msg.get("clientContext")
        self.client_context = ClientContext(cc) if isinstance(cc, dict) else None
        ident = msg.get("identity")
        self.identity = CognitoIdentity(ident) if isinstance(ident, dict) else None
        # the clock starts now, when the invocation starts (it may have waited in the pipe)
        self._deadline_ms = time.time() * 1000 + (msg.get("timeoutMs") or 0)

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return "LambdaContext([aws_request_id=%s,function_name=%s,function_version=%s])" % (
            self.aws_request_id,
            self.function_name,
            self.function_version,
        )


# ---------------------------------------------------------------------------------------------
# Init

_fn = {
    "function_name": "",
    "function_version": "$LATEST",
    "memory_limit_in_mb": "128",
    "log_group_name": "",
    "log_stream_name": "",
    "invoked_function_arn": "",
}
_handler = None
_init_failure = None  # error object of a failed init; later invokes are answered with it
_current_id = ""
_last_trace_id = None


def _load_handler(spec):
    """Lambda's rules: ``pkg/mod.handler`` -> import ``pkg.mod``, take attribute ``handler``."""
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as e:
        raise _RuntimeFault("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (spec, e))
    if not modname or not fname:
        raise _RuntimeFault("Runtime.MalformedHandlerName", "Bad handler '%s': expected 'module.function'" % spec)
    modname = modname.replace("/", ".")
    if modname.split(".")[0] in sys.builtin_module_names:
        raise _RuntimeFault(
            "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module %s as a handler module" % modname,
        )
    import importlib

    try:
        module = importlib.import_module(modname)
    except ImportError as e:
        raise _RuntimeFault(
            "Runtime.ImportModuleError",
            "Unable to import module '%s': %s" % (modname, e),
            _stack_trace(e.__traceback__),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, (e.text or "").strip())]
        raise _RuntimeFault(
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module '%s': %s" % (modname, e),
            trace,
        )
    # Any other exception raised by module scope keeps its own type, as on Lambda.
    handler = getattr(module, fname, None)
    if handler is None:
        raise _RuntimeFault("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (fname, modname))
    if not callable(handler):
        raise _RuntimeFault(
            "Runtime.HandlerNotFound",
            "Handler '%s' on module '%s' is not callable" % (fname, modname),
        )
    return handler


def _init(msg):
    global _handler, _init_failure, _id_json
    t0 = time.perf_counter()
    _id_json = "null"
    try:
        env = msg.get("env") or {}
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = str(value)
        if "TZ" in env and hasattr(time, "tzset"):
            time.tzset()
        fn = _fn
        fn["function_name"] = str(msg.get("functionName") or env.get("AWS_LAMBDA_FUNCTION_NAME") or "")
        fn["function_version"] = str(msg.get("functionVersion") or env.get("AWS_LAMBDA_FUNCTION_VERSION") or "$LATEST")
        fn["memory_limit_in_mb"] = str(msg.get("memoryMB") or env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or "128")
        fn["log_group_name"] = str(msg.get("logGroupName") or env.get("AWS_LAMBDA_LOG_GROUP_NAME") or "")
        fn["log_stream_name"] = str(msg.get("logStreamName") or env.get("AWS_LAMBDA_LOG_STREAM_NAME") or "")
        fn["invoked_function_arn"] = str(msg.get("invokedFunctionArn") or "")
        task_root = str(msg.get("taskRoot"))
        os.chdir(task_root)
        sys.path.insert(0, task_root)
        _handler = _load_handler(str(msg.get("handler")))
    except (SystemExit, KeyboardInterrupt):
        _flush_partials()
        raise
    except BaseException as e:  # noqa: B902 - module scope may raise anything
        _init_failure = _error_obj(e)
        _flush_partials()
        _send('{"t":"initError","error":' + json.dumps(_init_failure, default=str) + "}\n")
        return
    _flush_partials()
    _send('{"t":"ready","initMs":%s}\n' % round((time.perf_counter() - t0) * 1000, 2))


# ---------------------------------------------------------------------------------------------
# Invoke


def _default(o):
    # Lambda's Python runtime serialises Decimal (e.g. from DynamoDB) as a number.
    if type(o).__name__ == "Decimal":
        return float(o)
    raise TypeError("Object of type %s is not JSON serializable" % type(o).__name__)


_encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_default)


def _answer_error(id_field, exc):
    try:
        body = json.dumps(_error_obj(exc), default=str)
    except Exception:
        body = '{"errorType":"Runtime.MarshalError","errorMessage":"the error could not be serialised","stackTrace":[]}'
    _send('{"t":"error","id":' + id_field + ',"error":' + body + "}\n")


def _invoke(msg):
    global _id_json, _current_id, _last_trace_id
    req_id = str(msg.get("id"))
    _current_id = req_id
    id_field = _quote(req_id)
    _id_json = id_field
    if _handler is None:
        _flush_partials()
        if _init_failure is not None:
            fault = _RuntimeFault(_init_failure["errorType"], _init_failure["errorMessage"], _init_failure["stackTrace"])
        else:
            fault = _RuntimeFault("Runtime.InvalidState", "invoke received before a successful init")
        _answer_error(id_field, fault)
        return
    trace_id = msg.get("traceId")
    if trace_id != _last_trace_id:
        _last_trace_id = trace_id
        if trace_id is None:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        else:
            os.environ["_X_AMZN_TRACE_ID"] = str(trace_id)
    try:
        result = _handler(msg.get("event"), LambdaContext(msg))
    except (SystemExit, KeyboardInterrupt):
        # sys.exit() in a handler ends the process, like on Lambda; keep what it printed.
        _flush_partials()
        raise
    except BaseException as e:  # noqa: B902
        _flush_partials()
        _answer_error(id_field, e)
        return
    try:
        body = _encoder.encode(result)
    except Exception as e:  # TypeError, ValueError (NaN, circular), RecursionError, OverflowError
        _flush_partials()
        _answer_error(
            id_field,
            _RuntimeFault("Runtime.MarshalError", "Unable to marshal response: %s" % e, []),
        )
        return
    _flush_partials()
    _send('{"t":"result","id":' + id_field + ',"result":' + body + "}\n")


# ---------------------------------------------------------------------------------------------
# Main loop: one message per line on fd 3, handled one at a time.


def main():
    # Our own directory is not the user's: do not let it shadow their modules.
    here = os.path.dirname(_BOOTSTRAP_FILE)
    if sys.path and sys.path[0] in (here, ""):
        del sys.path[0]
    import atexit

    atexit.register(_flush_partials)
    reader = io.open(IN_FD, "rb", buffering=1 << 16, closefd=False)
    initialized = False
    while True:
        line = reader.readline()
        if not line:
            break  # the host closed the channel: this instance is retired
        if line == b"\n":
            continue
        try:
            msg = json.loads(line)
        except ValueError as e:
            _stderr.write("aviary bootstrap: ignoring a malformed message (%s)\n" % e)
            continue
        if not isinstance(msg, dict):
            _stderr.write("aviary bootstrap: ignoring a message that is not an object\n")
            continue
        kind = msg.get("t")
        if kind == "invoke":
            _invoke(msg)
        elif kind == "ping":
            _send('{"t":"pong"}\n')
        elif kind == "init":
            if initialized:
                _stderr.write("aviary bootstrap: ignoring a second init message\n")
                continue
            initialized = True
            _init(msg)
        else:
            _stderr.write("aviary bootstrap: ignoring unknown message type %r\n" % (kind,))
    _flush_partials()
    sys.exit(0)


if __name__ == "__main__":
    main()
