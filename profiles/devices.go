package profiles

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/lxmgr/lxmgr/api"
)

// diskKeys are the keys a "disk" device may have. "size" is the root disk
// quota (for pools that support quotas); "shift" asks for an idmapped bind
// mount so an unprivileged guest sees the source with its host owners.
var diskKeys = map[string]func(string) error{
	"type":     validAny,
	"path":     validAny,
	"source":   validAny,
	"pool":     validAny,
	"readonly": validBool,
	"shift":    validBool,
	"size":     validSize,
}

func validSize(v string) error {
	_, err := ParseBytes(v)
	return err
}

// ValidateDevices checks a device map of an instance or profile: device
// names are hostname-like-ish (1-64 chars, no '/', whitespace, control
// characters, and not "." or ".."), every device has a type, every value is
// free of newline and NUL. Supported: the root "disk" (path "/", with
// "pool", no "source") of which there may be at most one, "nic" and "proxy".
// Other types fail with ErrUnsupportedDevice, anything malformed with
// ErrInvalidDevice.
// Devices are checked in name order so the error is deterministic.
func ValidateDevices(devs api.Devices) error {
	names := make([]string, 0, len(devs))
	for n := range devs {
		names = append(names, n)
	}
	sort.Strings(names)
	root := ""
	for _, name := range names {
		dev := devs[name]
		if err := validDeviceName(name); err != nil {
			return fmt.Errorf("device %q: %w: %v", name, ErrInvalidDevice, err)
		}
		for k, v := range dev {
			if strings.ContainsAny(v, "\n\r\x00") {
				return fmt.Errorf("device %q: %w: key %q: value contains a newline or NUL", name, ErrInvalidDevice, k)
			}
		}
		switch typ := dev["type"]; typ {
		case "":
			return fmt.Errorf("device %q: %w: missing \"type\"", name, ErrInvalidDevice)
		case "disk":
			if err := validateDisk(name, dev); err != nil {
				return err
			}
			if dev["path"] == "/" {
				if root != "" {
					return fmt.Errorf("device %q: %w: more than one root disk (also %q)", name, ErrInvalidDevice, root)
				}
				root = name
			}
		case "nic":
			if err := validateNIC(name, dev); err != nil {
				return err
			}
		case "proxy":
			if err := validateProxy(name, dev); err != nil {
				return err
			}
		default:
			return fmt.Errorf("device %q: %w: type %q is not supported yet", name, ErrUnsupportedDevice, typ)
		}
	}
	return nil
}

func validDeviceName(name string) error {
	switch {
	case name == "" || len(name) > 64:
		return fmt.Errorf("name must be 1 to 64 characters")
	case name == "." || name == "..":
		return fmt.Errorf("name must not be %q", name)
	case strings.ContainsAny(name, "/ \t") || hasControl(name):
		return fmt.Errorf("name must not contain '/', whitespace or control characters")
	}
	return nil
}

func validateDisk(name string, dev map[string]string) error {
	keys := make([]string, 0, len(dev))
	for k := range dev {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		check, ok := diskKeys[k]
		if !ok {
			return fmt.Errorf("device %q: %w: unknown key %q for type \"disk\"", name, ErrInvalidDevice, k)
		}
		if err := check(dev[k]); err != nil {
			return fmt.Errorf("device %q: %w: key %q: invalid value %q: %v", name, ErrInvalidDevice, k, dev[k], err)
		}
	}
	p := dev["path"]
	if p == "" {
		return fmt.Errorf("device %q: %w: disk needs \"path\"", name, ErrInvalidDevice)
	}
	if err := validAbsPath(p); err != nil {
		return fmt.Errorf("device %q: %w: path %q: %v", name, ErrInvalidDevice, p, err)
	}
	if p == "/" {
		if dev["pool"] == "" {
			return fmt.Errorf("device %q: %w: root disk needs \"pool\"", name, ErrInvalidDevice)
		}
		if dev["source"] != "" {
			return fmt.Errorf("device %q: %w: root disk must not have \"source\"", name, ErrInvalidDevice)
		}
		return nil
	}
	if dev["pool"] != "" {
		// A custom volume of that pool: source is the volume's name.
		if err := validVolumeName(dev["source"]); err != nil {
			return fmt.Errorf("device %q: %w: source %q: %v", name, ErrInvalidDevice, dev["source"], err)
		}
		return nil
	}
	if dev["size"] != "" {
		return fmt.Errorf("device %q: %w: \"size\" is only valid on the root disk", name, ErrInvalidDevice)
	}
	src := dev["source"]
	if src == "" {
		return fmt.Errorf("device %q: %w: disk needs \"source\"", name, ErrInvalidDevice)
	}
	if err := validAbsPath(src); err != nil {
		return fmt.Errorf("device %q: %w: source %q: %v", name, ErrInvalidDevice, src, err)
	}
	return nil
}

// validVolumeName wants a custom volume name: hostname-like, so it is safe
// in a path.
func validVolumeName(v string) error {
	if v == "" || len(v) > 63 || strings.ContainsAny(v, "/ \t") || strings.HasPrefix(v, ".") || hasControl(v) {
		return fmt.Errorf("not a valid volume name")
	}
	return nil
}

// validAbsPath wants an absolute path without ".." components, so that a
// mount target can never climb out of the guest's root by name alone.
func validAbsPath(p string) error {
	if !path.IsAbs(p) {
		return fmt.Errorf("must be absolute")
	}
	if strings.ContainsAny(p, " \t\\") {
		return fmt.Errorf("must not contain whitespace or backslashes")
	}
	for elem := range strings.SplitSeq(p, "/") {
		if elem == ".." {
			return fmt.Errorf("must not contain \"..\"")
		}
	}
	return nil
}

// RootDisk returns the name and config of the root disk device (path "/")
// of an expanded device map, if there is one.
func RootDisk(devs api.Devices) (string, map[string]string, bool) {
	for name, dev := range devs {
		if dev["type"] == "disk" && dev["path"] == "/" {
			return name, dev, true
		}
	}
	return "", nil, false
}
