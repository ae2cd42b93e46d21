package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// FileInfo is what the daemon says of a path in a guest (LXD's X-LXD-* headers).
type FileInfo struct {
	UID, GID int64
	Mode     uint32
	Type     string   // "file", "directory" or "symlink"
	Entries  []string // for directories
}

// GetFile reads a file of an instance. For a directory the returned reader
// is nil and info.Entries lists it. The caller closes the reader.
func (c *Client) GetFile(ctx context.Context, name, path string) (io.ReadCloser, FileInfo, error) {
	resp, err := c.raw(ctx, request{method: http.MethodGet, path: filesPath(name, path)})
	if err != nil {
		return nil, FileInfo{}, err
	}
	info := FileInfo{Type: resp.Header.Get("X-LXD-type")}
	info.UID, _ = strconv.ParseInt(resp.Header.Get("X-LXD-uid"), 10, 64)
	info.GID, _ = strconv.ParseInt(resp.Header.Get("X-LXD-gid"), 10, 64)
	m, _ := strconv.ParseUint(resp.Header.Get("X-LXD-mode"), 8, 32)
	info.Mode = uint32(m)
	if resp.StatusCode != http.StatusOK || info.Type == "directory" {
		defer resp.Body.Close()
		env, _, err := decode(resp)
		if err != nil {
			return nil, info, err
		}
		if err := json.Unmarshal(env.Metadata, &info.Entries); err != nil {
			return nil, info, fmt.Errorf("decode directory listing: %w", err)
		}
		return nil, info, nil
	}
	return resp.Body, info, nil
}

// FileArgs describes a file to write into an instance.
type FileArgs struct {
	Content   io.Reader
	UID, GID  int64
	Mode      uint32 // 0 = daemon default (0644 files, 0755 dirs)
	Type      string // "file" (default), "directory" or "symlink" (Content holds the target)
	WriteMode string // "overwrite" (default) or "append"
}

// CreateFile writes a file, directory or symlink into an instance.
func (c *Client) CreateFile(ctx context.Context, name, path string, args FileArgs) error {
	h := map[string]string{
		"X-LXD-uid": strconv.FormatInt(args.UID, 10),
		"X-LXD-gid": strconv.FormatInt(args.GID, 10),
	}
	if args.Mode != 0 {
		h["X-LXD-mode"] = fmt.Sprintf("%04o", args.Mode)
	}
	if args.Type != "" {
		h["X-LXD-type"] = args.Type
	}
	if args.WriteMode != "" {
		h["X-LXD-write"] = args.WriteMode
	}
	body := args.Content
	if body == nil {
		body = http.NoBody
	}
	return c.sync(ctx, request{method: http.MethodPost, path: filesPath(name, path), body: body, headers: h})
}

// DeleteFile removes a file or empty directory of an instance.
func (c *Client) DeleteFile(ctx context.Context, name, path string) error {
	return c.sync(ctx, request{method: http.MethodDelete, path: filesPath(name, path)})
}

func filesPath(name, path string) string {
	return "/1.0/instances/" + esc(name) + "/files?path=" + url.QueryEscape(path)
}
