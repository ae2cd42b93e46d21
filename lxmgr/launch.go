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
	return api.InstancesPost{
		InstancePut: api.InstancePut{Config: cfg, Profiles: profs, Description: f.description},
		Name:        name,
		Source:      api.InstanceSource{Type: "image", Alias: image},
		Type:        "container",
		Start:       start,
		WaitReady:   start && f.wait,
	}, nil
}

// newLaunchCmd returns "launch" (create and start) or, with start false,
// "create".
func newLaunchCmd(g *globals, start bool) *cobra.Command {
	f := &createFlags{}
	cmd := &cobra.Command{
		Use:   "launch IMAGE NAME",
		Short: "Create and start an instance",
		Long: "Create an instance from IMAGE (an alias such as debian/12 or busybox, or a fingerprint)\n" +
			"and start it. Images lxmgr can build are built on first use.",
		Example: "  lxmgr launch debian/12 web1 --wait\n  lxmgr launch busybox t1 -p default -c limits.memory=64MiB",
		Args:    exactArgs(2),
	}
	if !start {
		cmd.Use = "create IMAGE NAME"
		cmd.Short = "Create an instance without starting it"
		cmd.Long = "Create an instance from IMAGE (an alias such as debian/12 or busybox, or a fingerprint).\n" +
			"It is left stopped; see 'lxmgr start'."
		cmd.Example = "  lxmgr create debian/12 web1"
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		req, err := f.request(args[0], args[1], start)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		op, err := g.client().CreateInstance(ctx, req)
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
	if start {
		fl.BoolVar(&f.wait, "wait", false, "wait until the guest's init reports that boot finished")
	}
	return cmd
}
