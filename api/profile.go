package api

// ProfilePut holds the fields of a profile that PUT replaces.
type ProfilePut struct {
	Config      map[string]string `json:"config" yaml:"config"`
	Description string            `json:"description" yaml:"description"`
	Devices     Devices           `json:"devices" yaml:"devices"`
}

// Profile is a named set of config and devices applied to instances.
type Profile struct {
	ProfilePut `yaml:",inline"`
	Name       string   `json:"name" yaml:"name"`
	UsedBy     []string `json:"used_by" yaml:"used_by"`
}

// ProfilesPost is the body of POST /1.0/profiles.
type ProfilesPost struct {
	ProfilePut `yaml:",inline"`
	Name       string `json:"name" yaml:"name"`
}
