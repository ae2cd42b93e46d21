package profiles

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/lxmgr/lxmgr/api"
	"gopkg.in/yaml.v3"
)

// profileYAML is what ParseYAML accepts. Besides the editable fields it
// knows the read-only fields that `profile show` prints (name, used_by,
// project), so that the output of show can be edited and fed back; those are
// ignored. Anything else is an error.
type profileYAML struct {
	Config      map[string]string `yaml:"config"`
	Description string            `yaml:"description"`
	Devices     api.Devices       `yaml:"devices"`
	Name        string            `yaml:"name"`
	UsedBy      []string          `yaml:"used_by"`
	Project     string            `yaml:"project"`
}

// ParseYAML parses a profile document (config, description, devices)
// strictly: unknown fields and more than one document are errors
// (ErrInvalidYAML). Scalars are read as strings, so "limits.cpu: 2" gives
// "2". It does not validate keys or devices; call ValidateConfig and
// ValidateDevices on the result. Nil maps come back as empty maps.
func ParseYAML(data []byte) (api.ProfilePut, error) {
	var doc profileYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return api.ProfilePut{}, fmt.Errorf("%w: %v", ErrInvalidYAML, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return api.ProfilePut{}, fmt.Errorf("%w: more than one document", ErrInvalidYAML)
	}
	put := api.ProfilePut{Config: doc.Config, Description: doc.Description, Devices: doc.Devices}
	if put.Config == nil {
		put.Config = map[string]string{}
	}
	if put.Devices == nil {
		put.Devices = api.Devices{}
	}
	return put, nil
}
