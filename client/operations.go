package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/lxmgr/lxmgr/api"
)

// Operation is a handle on a daemon operation.
type Operation struct {
	api.Operation
	c *Client
}

// Wait blocks until the operation finishes or ctx ends. It returns the
// operation's error as an error when it failed.
func (o *Operation) Wait(ctx context.Context) error {
	for {
		err := o.waitOnce(ctx, 30)
		if err != nil {
			return err
		}
		if o.StatusCode.IsFinal() {
			break
		}
	}
	return o.Result()
}

// WaitProgress is Wait that calls progress with the operation's metadata
// "progress" text whenever it changes.
func (o *Operation) WaitProgress(ctx context.Context, progress func(string)) error {
	last := ""
	for {
		if err := o.waitOnce(ctx, 1); err != nil {
			return err
		}
		if p, _ := o.Metadata["progress"].(string); p != "" && p != last {
			last = p
			progress(p)
		}
		if o.StatusCode.IsFinal() {
			return o.Result()
		}
	}
}

func (o *Operation) waitOnce(ctx context.Context, timeout int) error {
	var op api.Operation
	_, err := o.c.get(ctx, fmt.Sprintf("/1.0/operations/%s/wait?timeout=%d", esc(o.ID), timeout), &op)
	if err != nil {
		return err
	}
	o.Operation = op
	return nil
}

// Result turns a finished operation into an error (nil on success).
func (o *Operation) Result() error {
	switch o.StatusCode {
	case api.Success:
		return nil
	case api.Cancelled:
		return errors.New("operation cancelled")
	default:
		code := 0
		if v, ok := o.Metadata["error_code"].(float64); ok {
			code = int(v)
		}
		if code == 0 {
			return errors.New(o.Err)
		}
		return &api.StatusError{Code: code, Message: o.Err}
	}
}

// Cancel asks the daemon to cancel the operation.
func (o *Operation) Cancel(ctx context.Context) error {
	return o.c.sync(ctx, request{method: http.MethodDelete, path: "/1.0/operations/" + esc(o.ID)})
}

// GetOperations lists the daemon's operations.
func (c *Client) GetOperations(ctx context.Context) ([]api.Operation, error) {
	var byStatus map[string][]api.Operation
	if _, err := c.get(ctx, "/1.0/operations?recursion=1", &byStatus); err != nil {
		return nil, err
	}
	var ops []api.Operation
	for _, l := range byStatus {
		ops = append(ops, l...)
	}
	return ops, nil
}

// GetOperation returns one operation.
func (c *Client) GetOperation(ctx context.Context, id string) (*Operation, error) {
	op := &Operation{c: c}
	if _, err := c.get(ctx, "/1.0/operations/"+esc(id), &op.Operation); err != nil {
		return nil, err
	}
	return op, nil
}
