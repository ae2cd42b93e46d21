package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/instance"
)

// connectTimeout bounds how long an exec waits for its websockets.
const connectTimeout = 30 * time.Second

// execSession is the websocket side of an exec operation: one secret per
// stream, and the connections once the client dialled them.
type execSession struct {
	mu        sync.Mutex
	secrets   map[string]string // stream ("0", "1", "2", "control") -> secret
	conns     map[string]*websocket.Conn
	connected chan struct{}
	closed    bool // by close: no stream attaches any more
}

func newExecSession(interactive bool) *execSession {
	streams := []string{"0", "1", "2", "control"}
	if interactive {
		streams = []string{"0", "control"}
	}
	s := &execSession{secrets: map[string]string{}, conns: map[string]*websocket.Conn{}, connected: make(chan struct{})}
	for _, k := range streams {
		var b [32]byte
		rand.Read(b[:])
		s.secrets[k] = hex.EncodeToString(b[:])
	}
	return s
}

// attach registers a dialled websocket; false if the secret is unknown.
func (s *execSession) attach(secret string, ws *websocket.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	for k, v := range s.secrets {
		if v == secret && s.conns[k] == nil {
			s.conns[k] = ws
			if len(s.conns) == len(s.secrets) {
				close(s.connected)
			}
			return true
		}
	}
	return false
}

// close closes the streams and forgets them. The finished operation stays
// listed for minutes (operations.start) with its session, which must not
// keep the connections and their buffers alive that long: about 55 kB per
// exec, 16 MB after 300 quick execs.
func (s *execSession) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ws := range s.conns {
		ws.Close()
	}
	s.conns = nil
	s.closed = true
}

func (d *daemon) instanceExecPost(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req api.InstanceExecPost
	if err := decodeBody(r, &req); err != nil {
		errorResponse(w, err)
		return
	}
	if len(req.Command) == 0 {
		errorResponse(w, fmt.Errorf("%w: exec needs a command", api.ErrInvalid))
		return
	}
	if _, _, err := d.loadInstance(r.Context(), name); err != nil {
		errorResponse(w, err)
		return
	}
	if st := d.cache.refresh(name); st.Status != instance.StatusRunning {
		errorResponse(w, fmt.Errorf("%w: instance %q is not running", errBusy, name))
		return
	}
	sess := newExecSession(req.Interactive)
	res := map[string][]string{"instances": {"/1.0/instances/" + name}}
	op := d.ops.start(d.bg, api.OperationClassWebsocket, "Executing command", res, false, func(ctx context.Context, op *operation) error {
		defer sess.close()
		select {
		case <-sess.connected:
		case <-time.After(connectTimeout):
			return errors.New("exec: the client did not connect its websockets in time")
		case <-ctx.Done():
			return ctx.Err()
		}
		code, err := d.runExec(ctx, name, req, sess)
		if err != nil {
			return err
		}
		op.setMeta("return", code)
		return nil
	})
	fds := map[string]any{}
	for k, v := range sess.secrets {
		fds[k] = v
	}
	op.setMeta("fds", fds)
	op.mu.Lock()
	op.websocket = sess
	op.mu.Unlock()
	asyncResponse(w, op)
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// operationWebsocket connects one stream of an exec session.
func (d *daemon) operationWebsocket(w http.ResponseWriter, r *http.Request) {
	op, err := d.ops.get(r.PathValue("id"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	op.mu.Lock()
	sess := op.websocket
	op.mu.Unlock()
	if sess == nil {
		errorResponse(w, fmt.Errorf("%w: operation has no websocket", api.ErrInvalid))
		return
	}
	secret := r.URL.Query().Get("secret")
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	if !sess.attach(secret, ws) {
		ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "bad secret"))
		ws.Close()
	}
}

// runExec wires the websockets to pipes (or a pty) and runs the command.
func (d *daemon) runExec(ctx context.Context, name string, req api.InstanceExecPost, sess *execSession) (int, error) {
	signals := make(chan syscall.Signal, 4)
	spec := instance.ExecSpec{Args: req.Command, Env: req.Environment, Cwd: req.Cwd, UID: req.User, GID: req.Group, Signals: signals}
	var outputs sync.WaitGroup
	var childEnds []*os.File
	if req.Interactive {
		master, slave, err := d.execPty(ctx, name)
		if err != nil {
			return -1, err
		}
		defer master.Close()
		resize(master, req.Width, req.Height)
		spec.Stdin, spec.Stdout, spec.Stderr = slave, slave, slave
		childEnds = append(childEnds, slave)
		go pumpIn(sess.conns["0"], master, false)
		outputs.Add(1)
		go func() { defer outputs.Done(); pumpOut(master, sess.conns["0"]) }()
		go control(sess.conns["control"], master, signals)
	} else {
		inR, inW, err := os.Pipe()
		if err != nil {
			return -1, err
		}
		outR, outW, err := os.Pipe()
		if err != nil {
			return -1, err
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			return -1, err
		}
		defer outR.Close()
		defer errR.Close()
		spec.Stdin, spec.Stdout, spec.Stderr = inR, outW, errW
		childEnds = append(childEnds, inR, outW, errW)
		go pumpIn(sess.conns["0"], inW, true)
		outputs.Add(2)
		go func() { defer outputs.Done(); pumpOut(outR, sess.conns["1"]) }()
		go func() { defer outputs.Done(); pumpOut(errR, sess.conns["2"]) }()
		go control(sess.conns["control"], nil, signals)
	}
	code, err := d.lxc.Exec(ctx, name, spec)
	for _, f := range childEnds {
		f.Close()
	}
	// Flush what the command wrote; a background process that keeps the
	// pipe open must not hold the operation forever.
	flushed := make(chan struct{})
	go func() { outputs.Wait(); close(flushed) }()
	select {
	case <-flushed:
	case <-time.After(2 * time.Second):
	}
	if err != nil {
		return -1, fmt.Errorf("exec in %q: %w", name, err)
	}
	return code, nil
}

// pumpIn copies client messages into w; a text message or a closed socket
// is end of input.
func pumpIn(ws *websocket.Conn, w *os.File, closeOnEOF bool) {
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil || mt != websocket.BinaryMessage {
			break
		}
		if _, err := w.Write(data); err != nil {
			break
		}
	}
	if closeOnEOF {
		w.Close()
	}
}

// pumpOut copies r to the websocket and closes the stream at EOF.
func pumpOut(r io.Reader, ws *websocket.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if werr := ws.WriteMessage(websocket.BinaryMessage, buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			break
		}
	}
	ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
}

// control handles window-resize and signal messages until the socket
// closes. Signals go to the command; a full queue drops them rather than
// block the socket.
func control(ws *websocket.Conn, pty *os.File, signals chan<- syscall.Signal) {
	for {
		var msg api.InstanceExecControl
		if err := ws.ReadJSON(&msg); err != nil {
			return
		}
		switch {
		case msg.Command == "window-resize" && pty != nil:
			w, _ := strconv.Atoi(msg.Args["width"])
			h, _ := strconv.Atoi(msg.Args["height"])
			resize(pty, w, h)
		case msg.Command == "signal" && msg.Signal > 0 && msg.Signal < 65:
			select {
			case signals <- syscall.Signal(msg.Signal):
			default:
			}
		}
	}
}

// execPty allocates the terminal of an interactive exec on the guest's own
// devpts, so that the command sees a /dev/pts/N that exists in the guest
// (tty, ssh-agent, sudo need that), owned by the guest's root. A guest
// without a usable /dev/ptmx gets a host pty instead.
func (d *daemon) execPty(ctx context.Context, name string) (master, slave *os.File, err error) {
	inst, _, err := d.loadInstance(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	st := d.cache.get(name)
	if st.Pid > 0 {
		root, err := os.Open(fmt.Sprintf("/proc/%d/root", st.Pid))
		if err == nil {
			defer root.Close()
			m, s, err := openPtyAt(func(p string) (*os.File, error) { return openIn(root, p, unix.O_RDWR|unix.O_NOCTTY, 0) })
			if err == nil {
				uid, gid := 0, 0
				if inst.IdmapBase != 0 {
					uid, gid = int(inst.IdmapBase), int(d.ids.gidFor(inst.IdmapBase))
				}
				if err := s.Chown(uid, gid); err == nil {
					return m, s, nil
				}
				m.Close()
				s.Close()
			}
			slog.Debug("no pty in the guest's devpts; using the host's", "instance", name, "err", err)
		}
	}
	return openPtyAt(func(p string) (*os.File, error) { return os.OpenFile(p, os.O_RDWR|unix.O_NOCTTY, 0) })
}

// openPtyAt allocates a pseudo-terminal pair through open, which opens
// "/dev/ptmx" and "/dev/pts/N" of some devpts instance.
func openPtyAt(open func(string) (*os.File, error)) (master, slave *os.File, err error) {
	m, err := open("/dev/ptmx")
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	s, err := open("/dev/pts/" + strconv.Itoa(n))
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("open pty slave: %w", err)
	}
	return m, s, nil
}

func resize(pty *os.File, width, height int) {
	if width <= 0 || height <= 0 {
		return
	}
	ws := &unix.Winsize{Col: uint16(width), Row: uint16(height)}
	if err := unix.IoctlSetWinsize(int(pty.Fd()), unix.TIOCSWINSZ, ws); err != nil {
		slog.Debug("resize pty", "err", err)
	}
}
