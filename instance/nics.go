package instance

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ConfiguredNICs returns the nics (Bridge, HWAddr, Name, HostName) of
// name's liblxc config on disk, in config order. While the guest runs these
// are the nics it runs with, even when the daemon's config has changed
// since (Create refuses to re-render a running guest's config); after it
// stopped, the ones it ran with until the next Create. Lines from raw.lxc
// are not ours and are left out. A container that is not defined has none.
func (d *Driver) ConfiguredNICs(name string) ([]NIC, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(d.configPath(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config of %q: %w", name, err)
	}
	text, _, _ := strings.Cut(string(b), "\n"+rawMarker)
	type netEntry struct {
		NIC
		veth bool
	}
	byIndex := map[int]*netEntry{}
	var order []int
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, " = ")
		rest, isNet := strings.CutPrefix(k, "lxc.net.")
		if !ok || !isNet {
			continue
		}
		idx, key, ok := strings.Cut(rest, ".")
		i, err := strconv.Atoi(idx)
		if !ok || err != nil {
			continue
		}
		n := byIndex[i]
		if n == nil {
			n = &netEntry{}
			byIndex[i] = n
			order = append(order, i)
		}
		switch key {
		case "type":
			n.veth = v == "veth" // "empty" stands for no nic
		case "link":
			n.Bridge = v
		case "name":
			n.Name = v
		case "hwaddr":
			n.HWAddr = v
		case "veth.pair":
			n.HostName = v
		}
	}
	var out []NIC
	for _, i := range order {
		if n := byIndex[i]; n.veth && n.Bridge != "" {
			out = append(out, n.NIC)
		}
	}
	return out, nil
}
