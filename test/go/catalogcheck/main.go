// catalogcheck decodes catalog files the way the Docker MCP Gateway does, but strictly: every
// key must be a field of the gateway's catalog types (docker/mcp-gateway pkg/catalog/types.go
// at 2bd20fe8, v0.43.3+), so a file that passes holds nothing the gateway would silently ignore.
// The struct below mirrors the yaml keys of those types; it is written here, not copied.
//
// Usage: catalogcheck FILE...   (exit 0: all decode; 1: any fails, one line per failure)
// Build in GOPATH mode with Debian's golang-go and golang-gopkg-yaml.v3-dev:
//   GO111MODULE=off GOPATH=/usr/share/gocode go build -o catalogcheck ./test/go/catalogcheck
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

// decision mirrors policy.Decision, which has json tags only: yaml.v3 then uses the
// lower-cased field names.
type decision struct {
	Allowed bool   `yaml:"allowed"`
	Reason  string `yaml:"reason"`
	Error   string `yaml:"error"`
}

type catalogFile struct {
	Name        string            `yaml:"name,omitempty"`
	DisplayName string            `yaml:"displayName,omitempty"`
	Registry    map[string]server `yaml:"registry"`
	Policy      *decision         `yaml:"policy,omitempty"`
}

type server struct {
	Name           string    `yaml:"name,omitempty"`
	Type           string    `yaml:"type"`
	Image          string    `yaml:"image"`
	Description    string    `yaml:"description,omitempty"`
	Title          string    `yaml:"title,omitempty"`
	Icon           string    `yaml:"icon,omitempty"`
	ReadmeURL      string    `yaml:"readme,omitempty"`
	LongLived      bool      `yaml:"longLived,omitempty"`
	Remote         remote    `yaml:"remote"`
	SSEEndpoint    string    `yaml:"sseEndpoint,omitempty"`
	OAuth          *oauth    `yaml:"oauth,omitempty"`
	Secrets        []secret  `yaml:"secrets,omitempty"`
	Env            []env     `yaml:"env,omitempty"`
	Command        []string  `yaml:"command,omitempty"`
	Volumes        []string  `yaml:"volumes,omitempty"`
	User           string    `yaml:"user,omitempty"`
	DisableNetwork bool      `yaml:"disableNetwork,omitempty"`
	AllowHosts     []string  `yaml:"allowHosts,omitempty"`
	ExtraHosts     []string  `yaml:"extraHosts,omitempty"`
	Tools          []tool    `yaml:"tools,omitempty"`
	Config         []any     `yaml:"config,omitempty"`
	Prefix         string    `yaml:"prefix,omitempty"`
	Metadata       *metadata `yaml:"metadata,omitempty"`
	Policy         *decision `yaml:"policy,omitempty"`
}

type metadata struct {
	Pulls       int      `yaml:"pulls,omitempty"`
	Stars       int      `yaml:"stars,omitempty"`
	GithubStars int      `yaml:"githubStars,omitempty"`
	Category    string   `yaml:"category,omitempty"`
	Tags        []string `yaml:"tags,omitempty"`
	License     string   `yaml:"license,omitempty"`
	Owner       string   `yaml:"owner,omitempty"`
	RegistryURL string   `yaml:"registryUrl,omitempty"`
}

type secret struct {
	Name string `yaml:"name"`
	Env  string `yaml:"env"`
}

type env struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

type remote struct {
	URL       string            `yaml:"url,omitempty"`
	Transport string            `yaml:"transport_type,omitempty"`
	Headers   map[string]string `yaml:"headers,omitempty"`
}

type oauth struct {
	Providers []oauthProvider `yaml:"providers,omitempty"`
	Scopes    []string        `yaml:"scopes,omitempty"`
}

type oauthProvider struct {
	Provider string `yaml:"provider"`
	Secret   string `yaml:"secret,omitempty"`
	Env      string `yaml:"env,omitempty"`
}

type items struct {
	Type string `yaml:"type"`
}

type tool struct {
	Name        string           `yaml:"name"`
	Description string           `yaml:"description"`
	Arguments   *[]toolArgument  `yaml:"arguments,omitempty"`
	Annotations *toolAnnotations `yaml:"annotations,omitempty"`
	Container   container        `yaml:"container,omitempty"`
	Parameters  parameters       `yaml:"parameters,omitempty"`
	Policy      *decision        `yaml:"policy,omitempty"`
}

type parameters struct {
	Type       string              `yaml:"type"`
	Properties map[string]property `yaml:"properties"`
	Required   []string            `yaml:"required"`
}

type property struct {
	Type        string `yaml:"type"`
	Description string `yaml:"description"`
	Items       *items `yaml:"items,omitempty"`
}

type container struct {
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Volumes []string `yaml:"volumes"`
	User    string   `yaml:"user,omitempty"`
}

type toolArgument struct {
	Name        string `yaml:"name"`
	Type        string `yaml:"type"`
	Items       *items `yaml:"items,omitempty"`
	Description string `yaml:"desc"`
	Optional    bool   `yaml:"optional,omitempty"`
}

type toolAnnotations struct {
	Title           string `yaml:"title,omitempty"`
	ReadOnlyHint    *bool  `yaml:"readOnlyHint,omitempty"`
	DestructiveHint *bool  `yaml:"destructiveHint,omitempty"`
	IdempotentHint  *bool  `yaml:"idempotentHint,omitempty"`
	OpenWorldHint   *bool  `yaml:"openWorldHint,omitempty"`
}

func strict(buf []byte, into any) error {
	dec := yaml.NewDecoder(bytes.NewReader(buf))
	dec.KnownFields(true)
	err := dec.Decode(into)
	if errors.Is(err, io.EOF) {
		return errors.New("empty document")
	}
	return err
}

// checkServer applies the gateway's own validation tags (validate:"required", "oneof").
func checkServer(key string, s server, needName bool) error {
	if needName && s.Name == "" {
		return fmt.Errorf("%s: name is required", key)
	}
	switch s.Type {
	case "server", "remote", "poci":
	default:
		return fmt.Errorf("%s: type must be server, remote or poci (got %q)", key, s.Type)
	}
	if s.Type == "server" && s.Image == "" {
		return fmt.Errorf("%s: a server needs an image", key)
	}
	for i, t := range s.Tools {
		if t.Name == "" {
			return fmt.Errorf("%s: tools[%d]: name is required", key, i)
		}
	}
	return nil
}

func check(path string) error {
	buf, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// Like the gateway's ResolveFile: a file with `registry:` is a catalog, else one server.
	var probe map[string]any
	if err := yaml.Unmarshal(buf, &probe); err != nil {
		return err
	}
	if _, ok := probe["registry"]; ok {
		var c catalogFile
		if err := strict(buf, &c); err != nil {
			return err
		}
		if len(c.Registry) == 0 {
			return errors.New("registry: no servers")
		}
		for key, s := range c.Registry {
			if err := checkServer(key, s, false); err != nil {
				return err
			}
		}
		return nil
	}
	var s server
	if err := strict(buf, &s); err != nil {
		return err
	}
	return checkServer("server", s, true)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: catalogcheck FILE...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		if err := check(path); err != nil {
			fmt.Printf("%s: %v\n", path, err)
			failed = true
		} else {
			fmt.Printf("%s: ok\n", path)
		}
	}
	if failed {
		os.Exit(1)
	}
}
