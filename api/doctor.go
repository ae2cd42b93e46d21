package api

// DoctorUnlimited is the MaxGuests of a check that does not bound the number
// of guests (a per-guest or per-process limit, or a missing feature).
const DoctorUnlimited = -1

// DoctorCheck is one host limit that matters for density, as reported by
// GET /1.0/doctor.
type DoctorCheck struct {
	// Name is the sysctl or resource, e.g. "fs.inotify.max_user_instances".
	Name string `json:"name" yaml:"name"`
	// Current is the value read on the host, or "unknown".
	Current string `json:"current" yaml:"current"`
	// Needed is the value lxmgr wants for the number of guests asked about.
	Needed string `json:"needed" yaml:"needed"`
	// PerGuest is the documented estimate of what one guest uses of it.
	PerGuest float64 `json:"per_guest" yaml:"per_guest"`
	// MaxGuests is how many guests fit under the current value;
	// DoctorUnlimited when the limit does not depend on the guest count.
	MaxGuests int `json:"max_guests" yaml:"max_guests"`
	// OK is true when the current value suffices for the guests asked about.
	OK bool `json:"ok" yaml:"ok"`
	// Raisable is true when lxmgrd raises it by itself at start.
	Raisable bool `json:"raisable" yaml:"raisable"`
	// Advice says, in one line, what to do about it.
	Advice string `json:"advice" yaml:"advice"`
}

// DoctorReport is the reply of GET /1.0/doctor?guests=N: every host limit
// check for Guests guests, and the limit that fails first.
type DoctorReport struct {
	// Guests is the guest count checked for: the target asked for, or the
	// daemon's current instance count.
	Guests int           `json:"guests" yaml:"guests"`
	Checks []DoctorCheck `json:"checks" yaml:"checks"`
	// FirstLimit is the check with the smallest MaxGuests ("" when no check
	// bounds the count) and FirstLimitGuests that count
	// (DoctorUnlimited when none).
	FirstLimit       string `json:"first_limit" yaml:"first_limit"`
	FirstLimitGuests int    `json:"first_limit_guests" yaml:"first_limit_guests"`
}
