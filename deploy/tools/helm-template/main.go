// helm-template renders a Helm chart's templates the way `helm template` does, for machines
// without Helm: Go's text/template with Sprig's functions (the engine Helm uses) plus Helm's own
// functions (include, tpl, required, toYaml, fromYaml, toJson, fromJson, lookup). Values come from
// the chart's values.yaml with each --values file merged over it, numbers decoded as float64 as
// Helm's YAML-through-JSON decoding does, and "<no value>" blanked as Helm does.
//
//	helm-template [--values FILE]... [--name RELEASE] [--namespace NS] CHART_DIR
//
// Prints every rendered template that is not empty, each after "---" and a "# Source:" line.
// Exits 1 with the template's name and line on an error. Builds with Debian's golang-go and
// golang-github-masterminds-sprig-dev in GOPATH mode (see scripts/check-deploy).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

// jsonish turns decoded YAML into what Helm's values are: maps of string keys, []interface{},
// float64 numbers (sigs.k8s.io/yaml decodes through encoding/json).
func jsonish(v interface{}) (map[string]interface{}, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func readYAMLMap(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var doc map[string]interface{}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if doc == nil {
		doc = map[string]interface{}{}
	}
	out, err := jsonish(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return out, nil
}

// mergeValues lays src over dst as Helm does for --values: maps merge key by key, anything else
// replaces, and a null removes the key.
func mergeValues(dst, src map[string]interface{}) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, srcIsMap := v.(map[string]interface{})
		dm, dstIsMap := dst[k].(map[string]interface{})
		if srcIsMap && dstIsMap {
			mergeValues(dm, sm)
			continue
		}
		dst[k] = v
	}
}

func toYAML(v interface{}) string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func fromYAML(s string) map[string]interface{} {
	var doc map[string]interface{}
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	out, err := jsonish(doc)
	if err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	return out
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJSON(s string) map[string]interface{} {
	out := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		out["Error"] = err.Error()
	}
	return out
}

// Files is the chart's .Files: Get reads a file below the chart folder.
type Files struct{ root string }

func (f Files) Get(name string) string {
	data, err := os.ReadFile(filepath.Join(f.root, filepath.FromSlash(name)))
	if err != nil {
		return ""
	}
	return string(data)
}

// APIVersions answers .Capabilities.APIVersions.Has for the API groups of a current cluster.
type APIVersions []string

func (a APIVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

func chartMetadata(file string) (map[string]interface{}, error) {
	doc, err := readYAMLMap(file)
	if err != nil {
		return nil, err
	}
	// .Chart exposes Chart.yaml's fields under Go's exported names.
	names := map[string]string{"apiVersion": "APIVersion", "appVersion": "AppVersion", "kubeVersion": "KubeVersion"}
	out := map[string]interface{}{}
	for k, v := range doc {
		name, ok := names[k]
		if !ok {
			name = strings.ToUpper(k[:1]) + k[1:]
		}
		out[name] = v
	}
	for _, required := range []string{"APIVersion", "Name", "Version"} {
		if s, _ := out[required].(string); s == "" {
			return nil, fmt.Errorf("%s: %s is required", file, required)
		}
	}
	return out, nil
}

func run() error {
	var values valueFiles
	release, namespace := "langfuse", "default"
	args := os.Args[1:]
	var chartDir string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "--values", "-f", "--name", "--namespace":
			if i+1 >= len(args) {
				return fmt.Errorf("%s needs a value", a)
			}
			i++
			switch a {
			case "--name":
				release = args[i]
			case "--namespace":
				namespace = args[i]
			default:
				_ = values.Set(args[i])
			}
		default:
			if strings.HasPrefix(a, "-") || chartDir != "" {
				return fmt.Errorf("usage: helm-template [--values FILE]... [--name RELEASE] [--namespace NS] CHART_DIR")
			}
			chartDir = a
		}
	}
	if chartDir == "" {
		return errors.New("usage: helm-template [--values FILE]... [--name RELEASE] [--namespace NS] CHART_DIR")
	}
	chart, err := chartMetadata(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return err
	}
	vals, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	for _, f := range values {
		overlay, err := readYAMLMap(f)
		if err != nil {
			return err
		}
		mergeValues(vals, overlay)
	}
	chartName := chart["Name"].(string)

	// Every file under templates/ joins one template set, named as Helm names them.
	var names []string
	sources := map[string]string{}
	templatesDir := filepath.Join(chartDir, "templates")
	err = filepath.Walk(templatesDir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(templatesDir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		name := path.Join(chartName, "templates", filepath.ToSlash(rel))
		names = append(names, name)
		sources[name] = string(data)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)

	root := template.New("chart").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env") // Helm leaves the renderer's environment out of charts
	delete(funcs, "expandenv")
	includeDepth := 0
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if includeDepth > 100 {
			return "", fmt.Errorf("include of %q nested too deeply", name)
		}
		includeDepth++
		defer func() { includeDepth-- }()
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	funcs["required"] = func(message string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(message)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(message)
		}
		return v, nil
	}
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["toJson"] = toJSON
	funcs["fromJson"] = fromJSON
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil // as `helm template`: no cluster to look in
	}
	root.Funcs(funcs)
	for _, name := range names {
		if _, err := root.New(name).Parse(sources[name]); err != nil {
			return err
		}
	}

	top := map[string]interface{}{
		"Values": vals,
		"Chart":  chart,
		"Release": map[string]interface{}{
			"Name": release, "Namespace": namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": "v1.30.0", "Major": "1", "Minor": "30", "GitVersion": "v1.30.0"},
			"APIVersions": APIVersions{"v1", "apps/v1", "autoscaling/v2", "policy/v1"},
		},
		"Files": Files{root: chartDir},
	}
	var out strings.Builder
	for _, name := range names {
		base := path.Base(name)
		if strings.HasPrefix(base, "_") {
			continue // partials hold named templates only
		}
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": name, "BasePath": path.Join(chartName, "templates")}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" || strings.TrimSpace(text) == "" {
			continue // notes are shown after install, not applied
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", name, strings.TrimRight(text, "\n"))
	}
	_, err = os.Stdout.WriteString(out.String())
	return err
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "helm-template:", err)
		os.Exit(1)
	}
}
