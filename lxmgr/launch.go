package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
)

// createFlags are the flags shared by launch and create.
type createFlags struct {
	profiles    []string
	noProfiles  bool
	config      []string
	description string
	wait        bool
	storage     string   // -s: pool of the root disk
	devices     []string // -d DEVICE,KEY=VALUE,...
}

// request builds the create request from the command line. Profiles: nil
// lets the daemon apply "default"; -p given at least once replaces that list
// (as in LXD); --no-profiles asks for none at all.
func (f *createFlags) request(image, name string, start bool) (api.InstancesPost, error) {
	if err := api.ValidateName("instance", name); err != nil {
		return api.InstancesPost{}, err
	}
	if image == "" {
		return api.InstancesPost{}, errors.New("image is empty")
	}
	if f.noProfiles && len(f.profiles) > 0 {
		return api.InstancesPost{}, errors.New("--no-profiles and --profile exclude each other")
	}
	var profs []string
	switch {
	case f.noProfiles:
		profs = []string{}
	case len(f.profiles) > 0:
		for _, p := range f.profiles {
			if err := api.ValidateName("profile", p); err != nil {
				return api.InstancesPost{}, err
			}
		}
		profs = f.profiles
	}
	cfg, err := parseKeyValues("config", f.config)
	if err != nil {
		return api.InstancesPost{}, err
	}
	if err := f.checkDevices(); err != nil {
		return api.InstancesPost{}, err
	}
	return api.InstancesPost{
		InstancePut: api.InstancePut{Config: cfg, Profiles: profs, Description: f.description},
		Name:        name,
		Source:      api.InstanceSource{Type: "image", Alias: image},
		Type:        "container",
		Start:       start,
		WaitReady:   start && f.wait,
	}, nil
}

// storageHelp explains -s and -d in the help of launch and create.
const storageHelp = "\n\n-s POOL puts the instance's root disk in POOL. -d DEVICE,KEY=VALUE,... sets keys\n" +
	"of one of its devices: a device its profiles give keeps its other keys, the root disk\n" +
	"gets type=disk, path=/ and a pool (-s, else the profile's, else \"default\"), and any\n" +
	"other new device must give its type."

// newLaunchCmd returns "launch" (create and start) or, with start false,
// "create".
func newLaunchCmd(g *globals, start bool) *cobra.Command {
	f := &createFlags{}
	cmd := &cobra.Command{
		Use:   "launch IMAGE NAME",
		Short: "Create and start an instance",
		Long: "Create an instance from IMAGE (an alias such as debian/12 or busybox, or a fingerprint)\n" +
			"and start it. Images lxmgr can build are built on first use." + storageHelp,
		Example: "  lxmgr launch debian/12 web1 --wait\n  lxmgr launch busybox t1 -p default -c limits.memory=64MiB\n" +
			"  lxmgr launch debian/12 db1 -s fast -d root,size=2GiB",
		Args: exactArgs(2),
	}
	if !start {
		cmd.Use = "create IMAGE NAME"
		cmd.Short = "Create an instance without starting it"
		cmd.Long = "Create an instance from IMAGE (an alias such as debian/12 or busybox, or a fingerprint).\n" +
			"It is left stopped; see 'lxmgr start'." + storageHelp
		cmd.Example = "  lxmgr create debian/12 web1\n  lxmgr create busybox t1 -s fast"
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		req, err := f.request(args[0], args[1], start)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		c := g.client()
		if f.needsDevices() {
			// Overrides start from the profiles' devices, which only
			// the daemon knows.
			base, err := profileDevices(ctx, c, req.Profiles)
			if err == nil {
				req.Devices, err = f.instanceDevices(base)
			}
			if err != nil {
				return fmt.Errorf("create %s: %w", req.Name, err)
			}
		}
		op, err := c.CreateInstance(ctx, req)
		if err != nil {
			return fmt.Errorf("create %s: %w", req.Name, err)
		}
		if err := waitOp(ctx, op, false); err != nil {
			return fmt.Errorf("%s %s: %w", cmd.Name(), req.Name, err)
		}
		switch {
		case !start:
			fmt.Fprintf(os.Stdout, "Created %s\n", req.Name)
		case f.wait:
			fmt.Fprintf(os.Stdout, "%s is ready\n", req.Name)
		default:
			fmt.Fprintf(os.Stdout, "Launched %s\n", req.Name)
		}
		return nil
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.profiles, "profile", "p", nil, "profile to apply (repeatable; replaces the default list)")
	fl.BoolVar(&f.noProfiles, "no-profiles", false, "apply no profile at all")
	fl.StringArrayVarP(&f.config, "config", "c", nil, "config key=value (repeatable)")
	fl.StringVar(&f.description, "description", "", "description of the instance")
	fl.StringVarP(&f.storage, "storage", "s", "", "storage pool of the instance's root disk")
	fl.StringArrayVarP(&f.devices, "device", "d", nil, "DEVICE,KEY=VALUE[,KEY=VALUE...]: set keys of a device, e.g. root,size=2GiB (repeatable)")
	if start {
		fl.BoolVar(&f.wait, "wait", false, "wait until the guest's init reports that boot finished")
	}
	return cmd
}
