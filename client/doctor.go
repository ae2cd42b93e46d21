package client

import (
	"context"
	"strconv"

	"github.com/lxmgr/lxmgr/api"
)

// CurrentGuests asks GetDoctor for the daemon's current instance count.
const CurrentGuests = -1

// GetDoctor returns the daemon's host limit checks (GET /1.0/doctor) for
// guests guests, or for its current instance count when guests is
// CurrentGuests (any negative value).
func (c *Client) GetDoctor(ctx context.Context, guests int) (api.DoctorReport, error) {
	p := "/1.0/doctor"
	if guests >= 0 {
		p += "?guests=" + strconv.Itoa(guests)
	}
	var rep api.DoctorReport
	_, err := c.get(ctx, p, &rep)
	return rep, err
}
