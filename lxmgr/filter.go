package main

import (
	"strings"

	"github.com/lxmgr/lxmgr/api"
)

// instanceFilter selects instances for list. A bare word matches a name
// prefix (several bare words: any of them); "key=value" must match the
// expanded config exactly, except the keys "status" (case-insensitive, e.g.
// status=running) and "name" (the whole name). All key=value terms must
// match.
type instanceFilter struct {
	prefixes []string
	keys     [][2]string
}

// parseFilters reads list's positional arguments.
func parseFilters(args []string) instanceFilter {
	var f instanceFilter
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok {
			f.keys = append(f.keys, [2]string{k, v})
			continue
		}
		f.prefixes = append(f.prefixes, a)
	}
	return f
}

// specialKey reports whether a key=value filter key is one of the keys
// match reads from the instance itself rather than its config.
func specialKey(k string) bool {
	switch strings.ToLower(k) {
	case "status", "state", "name":
		return true
	}
	return false
}

// needsConfig reports whether the filter reads instances' config.
func (f instanceFilter) needsConfig() bool {
	for _, kv := range f.keys {
		if !specialKey(kv[0]) {
			return true
		}
	}
	return false
}

// match reports whether inst passes the filter.
func (f instanceFilter) match(inst *api.InstanceFull) bool {
	if len(f.prefixes) > 0 {
		ok := false
		for _, p := range f.prefixes {
			if strings.HasPrefix(inst.Name, p) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, kv := range f.keys {
		k, v := kv[0], kv[1]
		switch lk := strings.ToLower(k); {
		case !specialKey(lk):
			if inst.ExpandedConfig[k] != v {
				return false
			}
		case lk == "name":
			if inst.Name != v {
				return false
			}
		default: // status or state
			if !strings.EqualFold(instanceStatus(inst), v) {
				return false
			}
		}
	}
	return true
}

// filterInstances keeps the instances that pass f, in order. The result is
// never nil so that JSON prints [] rather than null.
func filterInstances(insts []api.InstanceFull, f instanceFilter) []api.InstanceFull {
	out := make([]api.InstanceFull, 0, len(insts))
	for i := range insts {
		if f.match(&insts[i]) {
			out = append(out, insts[i])
		}
	}
	return out
}
