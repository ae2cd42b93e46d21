package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/lxmgrd/hostlimits"
)

// raiseHostLimits raises, before any guest is touched, the host limits that
// break density and are safe to raise (hostlimits.Raise), and logs each
// change. A failure is not fatal: lxmgr doctor says which limit will fail.
func raiseHostLimits() {
	changed, err := hostlimits.Raise("/")
	for _, c := range changed {
		slog.Info("raised host limit", "sysctl", c)
	}
	if err != nil {
		slog.Warn("could not raise some host limits (see lxmgr doctor)", "err", err)
	}
}

// doctorGet reports the host limits for ?guests=N guests, or for the
// number of instances in the inventory when guests is absent.
func (d *daemon) doctorGet(w http.ResponseWriter, r *http.Request) {
	guests, err := d.doctorGuests(r.Context(), r.URL.Query().Get("guests"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	rep, err := hostlimits.Inspect("/", guests)
	if err != nil {
		errorResponse(w, fmt.Errorf("inspect host limits: %w", err))
		return
	}
	syncResponse(w, doctorReport(rep))
}

func (d *daemon) doctorGuests(ctx context.Context, q string) (int, error) {
	if q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%w: guests=%q is not a count of guests", api.ErrInvalid, q)
		}
		return n, nil
	}
	var n int
	err := d.db.Transaction(ctx, func(tx *db.Tx) error {
		insts, err := tx.InstanceList(ctx)
		n = len(insts)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count instances: %w", err)
	}
	return n, nil
}

// doctorReport converts a hostlimits report to its wire form.
func doctorReport(rep hostlimits.Report) api.DoctorReport {
	out := api.DoctorReport{
		Guests: rep.Guests, Checks: make([]api.DoctorCheck, 0, len(rep.Checks)),
		FirstLimit: rep.FirstLimit, FirstLimitGuests: rep.FirstLimitGuests,
	}
	for _, c := range rep.Checks {
		out.Checks = append(out.Checks, api.DoctorCheck{
			Name: c.Name, Current: c.Current, Needed: c.Needed, PerGuest: c.PerGuest,
			MaxGuests: c.MaxGuests, OK: c.OK, Raisable: c.Raisable, Advice: c.Advice,
		})
	}
	return out
}
