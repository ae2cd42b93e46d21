package api

import "fmt"

// HumanBytes formats a byte count with binary units, as LXD shows sizes
// ("12.34MiB"); the CLI and the daemon's doctor report share it.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / unit
	i := 0
	for v >= unit && i < len(units)-1 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.2f%s", v, units[i])
}
