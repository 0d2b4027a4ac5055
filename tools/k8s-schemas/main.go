// k8s-schemas writes the JSON schemas kubeconform reads, offline: one file per kind, from the
// Kubernetes OpenAPI v2 document (api/openapi-spec/swagger.json of the k8s.io/kubernetes module)
// and from CustomResourceDefinition files (KEDA's, from the kedacore/keda module). The file names
// are those kubeconform looks for ({{ .ResourceKind }}{{ .KindSuffix }}.json) and the changes to
// the schemas those of its openapi2jsonschema.py: each file stands alone (it holds the definitions
// it refers to); with -strict, every object that lists its properties refuses the others; an
// int-or-string or a Quantity may be written as a string or as a number.
//
// Usage:
//
//	k8s-schemas -swagger swagger.json [-crd crd.yaml ...] -out DIR [-strict]
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

type gvk struct{ Group, Version, Kind string }

// fileName is kubeconform's {{ .ResourceKind }}{{ .KindSuffix }}.json: the kind, the first label
// of the group (none for the core group) and the version, lower case.
func (g gvk) fileName() string {
	suffix := ""
	if g.Group != "" {
		suffix += "-" + strings.Split(g.Group, ".")[0]
	}
	return strings.ToLower(g.Kind + suffix + "-" + g.Version + ".json")
}

func main() {
	var crds list
	swagger := flag.String("swagger", "", "Kubernetes OpenAPI v2 document (swagger.json)")
	out := flag.String("out", "", "output folder")
	strict := flag.Bool("strict", false, "objects refuse undeclared properties")
	flag.Var(&crds, "crd", "CustomResourceDefinition YAML file (repeatable)")
	flag.Parse()
	if *swagger == "" || *out == "" {
		fail(errors.New("usage: k8s-schemas -swagger swagger.json [-crd crd.yaml ...] -out DIR [-strict]"))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail(err)
	}
	defs, n, err := fromSwagger(*swagger, *out, *strict)
	if err != nil {
		fail(err)
	}
	for _, file := range crds {
		m, err := fromCRD(file, *out, *strict, defs)
		if err != nil {
			fail(fmt.Errorf("%s: %w", file, err))
		}
		n += m
	}
	fmt.Printf("k8s-schemas: %d schemas written to %s\n", n, *out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "k8s-schemas:", err)
	os.Exit(1)
}

const refPrefix = "#/definitions/"

// fromSwagger writes a schema per kind and returns the (transformed) definitions.
func fromSwagger(path, out string, strict bool) (map[string]any, int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Definitions) == 0 {
		return nil, 0, fmt.Errorf("%s: no definitions", path)
	}
	defs := map[string]any{}
	for name, def := range doc.Definitions {
		switch name {
		// Both are written as a string or a number in manifests (replicas: 1, cpu: 500m, cpu: 2).
		case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
			defs[name] = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
		case "io.k8s.apimachinery.pkg.api.resource.Quantity":
			defs[name] = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
		default:
			defs[name] = transform(def, strict)
		}
	}
	names := make([]string, 0, len(doc.Definitions))
	for name := range doc.Definitions {
		names = append(names, name)
	}
	sort.Strings(names)
	written := 0
	for _, name := range names {
		kinds := groupVersionKinds(doc.Definitions[name])
		// DeleteOptions, WatchEvent…: one definition for many kinds, none of them a manifest's.
		if len(kinds) != 1 {
			continue
		}
		k := kinds[0]
		schema := map[string]any{
			"$schema":     "http://json-schema.org/draft-07/schema#",
			"$ref":        refPrefix + name,
			"definitions": reachable(defs, name),
		}
		if err := writeJSON(filepath.Join(out, k.fileName()), schema); err != nil {
			return nil, written, err
		}
		written++
	}
	return defs, written, nil
}

func groupVersionKinds(def map[string]any) []gvk {
	items, _ := def["x-kubernetes-group-version-kind"].([]any)
	var kinds []gvk
	for _, item := range items {
		m, _ := item.(map[string]any)
		g, _ := m["group"].(string)
		v, _ := m["version"].(string)
		k, _ := m["kind"].(string)
		if v != "" && k != "" {
			kinds = append(kinds, gvk{g, v, k})
		}
	}
	return kinds
}

// reachable returns the definitions that root refers to, directly or not (root included).
func reachable(defs map[string]any, root string) map[string]any {
	seen := map[string]any{}
	var visit func(name string)
	var walk func(v any)
	visit = func(name string) {
		if _, ok := seen[name]; ok {
			return
		}
		def, ok := defs[name]
		if !ok {
			return
		}
		seen[name] = def
		walk(def)
	}
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			if ref, ok := t["$ref"].(string); ok && strings.HasPrefix(ref, refPrefix) {
				visit(strings.TrimPrefix(ref, refPrefix))
			}
			for _, c := range t {
				walk(c)
			}
		case []any:
			for _, c := range t {
				walk(c)
			}
		}
	}
	visit(root)
	return seen
}

// transform copies a schema node: int-or-string formats become oneOf string/integer, and in strict
// mode every object that lists its properties refuses the others (as kubectl's validation does).
func transform(v any, strict bool) any {
	switch t := v.(type) {
	case map[string]any:
		if t["format"] == "int-or-string" {
			return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
		}
		out := make(map[string]any, len(t)+1)
		for k, c := range t {
			// Inside properties, keys are field names (a field may be called "format").
			if k == "properties" {
				props := map[string]any{}
				if m, ok := c.(map[string]any); ok {
					for name, p := range m {
						props[name] = transform(p, strict)
					}
				}
				out[k] = props
				continue
			}
			out[k] = transform(c, strict)
		}
		if _, hasProps := t["properties"]; strict && hasProps {
			_, declared := t["additionalProperties"]
			preserve, _ := t["x-kubernetes-preserve-unknown-fields"].(bool)
			if !declared && !preserve {
				out["additionalProperties"] = false
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = transform(c, strict)
		}
		return out
	default:
		return v
	}
}

const objectMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

// fromCRD writes a schema per version of each CRD in the file. A CRD's schema leaves metadata open
// (type: object); the Kubernetes ObjectMeta is put in its place, so that a misspelt label key
// field is caught there too.
func fromCRD(path string, out string, strict bool, defs map[string]any) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	written := 0
	for {
		var crd struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Group string `yaml:"group"`
				Names struct {
					Kind string `yaml:"kind"`
				} `yaml:"names"`
				Versions []struct {
					Name   string `yaml:"name"`
					Schema struct {
						OpenAPIV3Schema map[string]any `yaml:"openAPIV3Schema"`
					} `yaml:"schema"`
				} `yaml:"versions"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&crd); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return written, err
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			schema, _ := transform(v.Schema.OpenAPIV3Schema, strict).(map[string]any)
			schema["$schema"] = "http://json-schema.org/draft-07/schema#"
			if props, ok := schema["properties"].(map[string]any); ok && props["metadata"] != nil && defs[objectMeta] != nil {
				props["metadata"] = map[string]any{"$ref": refPrefix + objectMeta}
				schema["definitions"] = reachable(defs, objectMeta)
			}
			k := gvk{crd.Spec.Group, v.Name, crd.Spec.Names.Kind}
			if err := writeJSON(filepath.Join(out, k.fileName()), schema); err != nil {
				return written, err
			}
			written++
		}
	}
	if written == 0 {
		return 0, errors.New("no CustomResourceDefinition with a schema")
	}
	return written, nil
}

func writeJSON(path string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
