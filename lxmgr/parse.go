package main

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/lxmgr/lxmgr/api"
)

// parseKeyValues turns "key=value" arguments (-c, --env) into a map. The
// value may itself contain '='; a later key wins over an earlier one. what
// names the flag in errors.
func parseKeyValues(what string, items []string) (map[string]string, error) {
	out := make(map[string]string, len(items))
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want key=value", what, it)
		}
		if strings.ContainsAny(k, " \t\r\n") {
			return nil, fmt.Errorf("%s %q: key must not contain whitespace", what, it)
		}
		out[k] = v
	}
	return out, nil
}

// splitInstancePath splits "NAME/PATH" (file commands) into the instance
// name and an absolute, cleaned path inside it; "web1/etc/hosts" gives
// ("web1", "/etc/hosts"). A trailing '/' is kept, because for push it means
// "into this directory". The name is validated.
func splitInstancePath(arg string) (string, string, error) {
	name, p, ok := strings.Cut(arg, "/")
	if !ok || p == "" {
		return "", "", fmt.Errorf("%q: want NAME/PATH, e.g. web1/etc/hosts", arg)
	}
	if err := api.ValidateName("instance", name); err != nil {
		return "", "", err
	}
	dir := strings.HasSuffix(p, "/")
	p = path.Clean("/" + p)
	if dir && p != "/" {
		p += "/"
	}
	return name, p, nil
}

// parseMode parses an octal file mode such as "0644" or "755".
func parseMode(s string) (uint32, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o7777 {
		return 0, fmt.Errorf("mode %q: want octal permissions such as 0644", s)
	}
	return uint32(m), nil
}

// validateNames checks every argument is a valid instance name before any
// request is sent, so that a typo fails fast and changes nothing.
func validateNames(names ...string) error {
	for _, n := range names {
		if err := api.ValidateName("instance", n); err != nil {
			return err
		}
	}
	return nil
}
