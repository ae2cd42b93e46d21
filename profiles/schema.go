package profiles

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/lxmgr/lxmgr/api"
)

// KeyType is the kind of value a config key holds; clients may use it to
// render or complete values.
type KeyType string

// Value types of the schema.
const (
	TypeString KeyType = "string"
	TypeBool   KeyType = "bool"
	TypeInt    KeyType = "int"
	TypeBytes  KeyType = "bytes"
	TypeCPU    KeyType = "cpu"
)

// KeySpec describes one config key (or one family of keys, for prefixes).
type KeySpec struct {
	Type     KeyType
	Validate func(value string) error
	Doc      string
	// Internal keys are written by the daemon only; users may not set them.
	Internal bool
}

// schema is the one table of every exact config key lxmgr knows. Adding a
// key means adding a line here (and a test case in schema_test.go).
var schema = map[string]KeySpec{
	"limits.cpu":           {TypeCPU, validCPU, "number of CPUs (\"2\") or a CPU set (\"0-1,3\")", false},
	"limits.cpu.allowance": {TypeString, validAllowance, "soft share (\"50%\") or hard quota (\"25ms/100ms\")", false},
	"limits.memory":        {TypeBytes, validMemory, "memory limit in bytes with units (\"512MiB\") or percent of host (\"50%\")", false},
	"limits.memory.swap":   {TypeBool, validBool, "whether the instance may swap", false},
	"limits.processes":     {TypeInt, intRange(1, 1<<31-1), "maximum number of processes", false},
	"limits.disk.priority": {TypeInt, intRange(0, 10), "block I/O weight, 0 (lowest) to 10 (highest)", false},

	"security.privileged":        {TypeBool, validBool, "run without a user namespace (container root is host root)", false},
	"security.nesting":           {TypeBool, validBool, "allow containers inside the instance", false},
	"security.idmap.isolated":    {TypeBool, validBool, "give the instance its own uid/gid range", false},
	"security.protection.delete": {TypeBool, validBool, "refuse to delete the instance", false},

	"boot.autostart":          {TypeBool, validBool, "start the instance when the daemon starts", false},
	"boot.autostart.priority": {TypeInt, intRange(-1<<31, 1<<31-1), "higher starts first", false},
	"boot.autostart.delay":    {TypeInt, intRange(0, 1<<31-1), "seconds to wait after starting this instance", false},
	"boot.stop.priority":      {TypeInt, intRange(-1<<31, 1<<31-1), "higher stops first", false},

	"raw.lxc": {TypeString, validAny, "one raw liblxc config line appended to the generated config", false},

	"snapshots.schedule": {TypeString, validSchedule, "automatic snapshots: cron (\"0 2 * * *\") or @hourly/@daily/@weekly/@monthly", false},
	"snapshots.expiry":   {TypeString, validExpiry, "how long automatic and new snapshots are kept (\"7d\", \"12H\", \"2w\")", false},
}

// prefixSchema holds the key families: any key starting with the prefix and
// with a non-empty rest is valid and checked with the spec.
var prefixSchema = map[string]KeySpec{
	"environment.": {TypeString, validAny, "environment variable of processes started in the instance", false},
	"user.":        {TypeString, validAny, "free-form user metadata", false},
	"image.":       {TypeString, validAny, "copied by the daemon from the source image's properties", false},
	"volatile.":    {TypeString, validAny, "internal state written by the daemon", true},
}

// Lookup returns the spec of a config key, exact keys first, then families.
func Lookup(key string) (KeySpec, bool) {
	if spec, ok := schema[key]; ok {
		return spec, true
	}
	for prefix, spec := range prefixSchema {
		if rest, ok := strings.CutPrefix(key, prefix); ok && rest != "" {
			if prefix == "environment." && !api.ValidEnvName(rest) {
				return KeySpec{}, false
			}
			return spec, true
		}
	}
	return KeySpec{}, false
}

func validAny(string) error { return nil }

func validBool(v string) error {
	if v != "true" && v != "false" {
		return fmt.Errorf("want \"true\" or \"false\"")
	}
	return nil
}

func intRange(lo, hi int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		if n < lo || n > hi {
			return fmt.Errorf("out of range [%d, %d]", lo, hi)
		}
		return nil
	}
}

func validCPU(v string) error {
	_, err := ParseCPU(v)
	return err
}

func validMemory(v string) error {
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		return validPercent(pct, 1, 100)
	}
	n, err := ParseBytes(v)
	if err != nil {
		return err
	}
	if n <= 0 {
		return fmt.Errorf("must be positive")
	}
	return nil
}

func validPercent(s string, lo, hi int) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("percentage must be an integer in [%d, %d]", lo, hi)
	}
	return nil
}

func validAllowance(v string) error {
	_, err := ParseCPUAllowance(v)
	return err
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}
