package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/lxmgr/lxmgr/api"
)

// ExecArgs carries the local ends of an exec session.
type ExecArgs struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer // ignored for interactive sessions (the pty merges it)
	// Control, if set, is called with a sender for control messages (window
	// resize, signals) once the session is up; it must return when ctx ends.
	Control func(ctx context.Context, send func(api.InstanceExecControl) error)
}

// Exec runs a command in a running instance over websockets and returns its
// exit code.
func (c *Client) Exec(ctx context.Context, name string, req api.InstanceExecPost, args ExecArgs) (int, error) {
	req.WaitForWS = true
	op, err := c.async(ctx, request{method: http.MethodPost, path: "/1.0/instances/" + esc(name) + "/exec", body: req})
	if err != nil {
		return -1, err
	}
	fds, err := execFDs(op)
	if err != nil {
		return -1, err
	}
	conns := map[string]*websocket.Conn{}
	defer func() {
		for _, ws := range conns {
			ws.Close()
		}
	}()
	for _, k := range fdOrder(req.Interactive) {
		ws, err := c.websocket(ctx, op.ID, fds[k])
		if err != nil {
			return -1, fmt.Errorf("exec: connect %s stream: %w", k, err)
		}
		conns[k] = ws
	}

	var wg sync.WaitGroup
	if req.Interactive {
		wg.Add(1)
		go func() { defer wg.Done(); readStream(conns["0"], args.Stdout) }()
	} else {
		for _, k := range []string{"1", "2"} {
			w := args.Stdout
			if k == "2" {
				w = args.Stderr
			}
			wg.Add(1)
			go func(ws *websocket.Conn, w io.Writer) { defer wg.Done(); readStream(ws, w) }(conns[k], w)
		}
	}
	go sendStdin(conns["0"], args.Stdin)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if args.Control != nil {
		var mu sync.Mutex
		go args.Control(cctx, func(m api.InstanceExecControl) error {
			mu.Lock()
			defer mu.Unlock()
			return conns["control"].WriteJSON(m)
		})
	}
	wg.Wait()
	if err := op.Wait(ctx); err != nil {
		return -1, err
	}
	code, ok := op.Metadata["return"].(float64)
	if !ok {
		return -1, errors.New("exec: daemon returned no exit code")
	}
	return int(code), nil
}

func fdOrder(interactive bool) []string {
	if interactive {
		return []string{"control", "0"}
	}
	return []string{"control", "0", "1", "2"}
}

func execFDs(op *Operation) (map[string]string, error) {
	raw, ok := op.Metadata["fds"].(map[string]any)
	if !ok {
		return nil, errors.New("exec: operation has no websocket secrets")
	}
	fds := map[string]string{}
	for k, v := range raw {
		s, _ := v.(string)
		fds[k] = s
	}
	return fds, nil
}

func (c *Client) websocket(ctx context.Context, opID, secret string) (*websocket.Conn, error) {
	d := websocket.Dialer{
		NetDialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, "unix", c.socket)
		},
	}
	u := "ws://lxmgr/1.0/operations/" + esc(opID) + "/websocket?secret=" + secret
	ws, resp, err := d.DialContext(ctx, u, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	return ws, err
}

// readStream copies binary messages to w until the daemon closes the stream.
func readStream(ws *websocket.Conn, w io.Writer) {
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if mt == websocket.BinaryMessage && w != nil {
			w.Write(data)
		}
	}
}

// sendStdin forwards r as binary messages; EOF is a text message "EOF"
// (the daemon then closes the command's stdin).
func sendStdin(ws *websocket.Conn, r io.Reader) {
	if r != nil {
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
	}
	ws.WriteMessage(websocket.TextMessage, []byte("EOF"))
}
