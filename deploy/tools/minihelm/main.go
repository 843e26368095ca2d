// minihelm renders a Helm chart the way `helm template` does, for machines without helm: Go's
// text/template with the sprig functions (as Helm has them) plus Helm's own include, required,
// fail, tpl, toYaml and .Files.Get. Enough for Parley's chart, not a Helm replacement: no subcharts, no
// lookup, no schema validation, Capabilities fixed. deploy/tools/render_k8s.py uses real helm
// when it is on PATH and this otherwise.
//
// Build on Debian: apt-get install golang-go golang-github-masterminds-sprig-dev
// golang-gopkg-yaml.v2-dev; GO111MODULE=off GOPATH=/usr/share/gocode go build -o minihelm .
//
// Usage: minihelm CHARTDIR [-n NAMESPACE] [--name RELEASE] [-f VALUES.yaml]... [--set a.b=v]...
//        [--notes]   (render NOTES.txt instead of the manifests)
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v2"
)

// chartFiles is Helm's .Files, reduced to Get: a file of the chart by its path in the chart.
type chartFiles struct{ root string }

func (f chartFiles) Get(name string) string {
	b, err := os.ReadFile(filepath.Join(f.root, name))
	if err != nil {
		return ""
	}
	return string(b)
}

func norm(v interface{}) interface{} {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := map[string]interface{}{}
		for k, x := range t {
			m[fmt.Sprint(k)] = norm(x)
		}
		return m
	case []interface{}:
		for i := range t {
			t[i] = norm(t[i])
		}
		return t
	}
	return v
}

func deepMerge(dst, src map[string]interface{}) {
	for k, v := range src {
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				deepMerge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

func setPath(m map[string]interface{}, path string, val interface{}) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		n, ok := m[p].(map[string]interface{})
		if !ok {
			n = map[string]interface{}{}
			m[p] = n
		}
		m = n
	}
	m[parts[len(parts)-1]] = val
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: minihelm CHARTDIR [-n ns] [--name rel] [-f values.yaml] [--set a.b=c] [--notes]")
		os.Exit(2)
	}
	chart := os.Args[1]
	ns, rel, notes := "default", "parley", false
	var files []string
	var sets []string
	for i := 2; i < len(os.Args); i++ {
		switch os.Args[i] {
		case "-n":
			i++
			ns = os.Args[i]
		case "--name":
			i++
			rel = os.Args[i]
		case "-f":
			i++
			files = append(files, os.Args[i])
		case "--set":
			i++
			sets = append(sets, os.Args[i])
		case "--notes":
			notes = true
		}
	}
	load := func(p string) map[string]interface{} {
		b, err := os.ReadFile(p)
		if err != nil {
			panic(err)
		}
		var v interface{}
		if err := yaml.Unmarshal(b, &v); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", p, err)
			os.Exit(1)
		}
		if v == nil {
			return map[string]interface{}{}
		}
		return norm(v).(map[string]interface{})
	}
	values := load(filepath.Join(chart, "values.yaml"))
	for _, f := range files {
		deepMerge(values, load(f))
	}
	for _, s := range sets {
		kv := strings.SplitN(s, "=", 2)
		var v interface{}
		if err := yaml.Unmarshal([]byte(kv[1]), &v); err != nil || v == nil {
			v = kv[1]
		}
		setPath(values, kv[0], norm(v))
	}
	chartMeta := load(filepath.Join(chart, "Chart.yaml"))
	top := map[string]interface{}{
		"Values":  values,
		"Release": map[string]interface{}{"Name": rel, "Namespace": ns, "Service": "Helm", "IsInstall": true, "IsUpgrade": false},
		"Chart": map[string]interface{}{"Name": chartMeta["name"], "Version": chartMeta["version"],
			"AppVersion": chartMeta["appVersion"]},
		"Capabilities": map[string]interface{}{"KubeVersion": map[string]interface{}{"Version": "v1.30.0"}},
		"Files":        chartFiles{chart},
	}
	root := template.New("root")
	funcs := sprig.TxtFuncMap()
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return nil, fmt.Errorf("%s", msg)
		}
		return v, nil
	}
	funcs["fail"] = func(msg string) (string, error) { return "", fmt.Errorf("%s", msg) }
	funcs["toYaml"] = func(v interface{}) string {
		b, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(b), "\n")
	}
	funcs["tpl"] = func(s string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(s)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = t.Execute(&buf, data)
		return buf.String(), err
	}
	root.Funcs(funcs).Option("missingkey=zero")
	tdir := filepath.Join(chart, "templates")
	entries, _ := os.ReadDir(tdir)
	var names []string
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(tdir, e.Name()))
		name := filepath.Join(chartMeta["name"].(string), "templates", e.Name())
		if _, err := root.New(name).Parse(string(b)); err != nil {
			fmt.Fprintln(os.Stderr, "parse:", err)
			os.Exit(1)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	failed := false
	for _, name := range names {
		base := filepath.Base(name)
		if strings.HasPrefix(base, "_") || (base == "NOTES.txt") != notes {
			continue
		}
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": name, "BasePath": filepath.Join(chartMeta["name"].(string), "templates")}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			fmt.Fprintln(os.Stderr, "render:", err)
			failed = true
			continue
		}
		out := strings.ReplaceAll(buf.String(), "<no value>", "")
		if strings.TrimSpace(out) == "" {
			continue
		}
		if notes {
			fmt.Print(out)
			continue
		}
		fmt.Printf("---\n# Source: %s\n%s\n", name, strings.Trim(out, "\n"))
	}
	if failed {
		os.Exit(1)
	}
}
