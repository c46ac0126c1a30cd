"""Runs a command on a pseudo-terminal as a user's shell would, types Ctrl-C once `pattern` has
appeared in its output (and `--file` exists), and prints JSON: the exit status, the
seconds from Ctrl-C to exit, and the output. Used by the Ctrl-C tests (standard library only)."""
import argparse, fcntl, json, os, pty, re, select, signal, struct, sys, termios, time

parser = argparse.ArgumentParser()
parser.add_argument('--pattern', default='')
parser.add_argument('--file', default='', help='type Ctrl-C only once this file exists')
parser.add_argument('--limit', type=float, default=60.0)
parser.add_argument('command', nargs=argparse.REMAINDER)
args = parser.parse_args()
if args.command[:1] == ['--']:
    args.command = args.command[1:]

pid, fd = pty.fork()
if pid == 0:
    os.execvp(args.command[0], args.command)
# 100 columns: a terminal that reports 0 columns gets no spinner.
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 30, 100, 0, 0))
output = b''
started = time.time()
sent = None
status = None
while status is None:
    if sent is None and re.search(args.pattern.encode(), output) \
            and (not args.file or os.path.exists(args.file)):
        os.write(fd, b'\x03')
        sent = time.time()
    if time.time() - started > args.limit:
        os.kill(pid, signal.SIGKILL)
    ready, _, _ = select.select([fd], [], [], 0.05)
    if ready:
        try:
            output += os.read(fd, 65536)
        except OSError:
            pass
    done, raw = os.waitpid(pid, os.WNOHANG)
    if done:
        status = raw
ended = time.time()
try:
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        output += chunk
except OSError:
    pass
print(json.dumps({
    'code': os.waitstatus_to_exitcode(status),
    'interruptedAfter': None if sent is None else sent - started,
    'exitSeconds': None if sent is None else ended - sent,
    'output': output.decode('utf8', 'replace'),
}))
