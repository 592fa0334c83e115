// Renderers of an Analysis: metrics.json (argus.metrics/1), report.md (GitHub-flavoured) and
// the SVG plots. All output is a pure function of the input: same model, same bytes.
#pragma once
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "analysis.h"

namespace argus::report {

using ojson = nlohmann::ordered_json;

ojson metrics_json(const RunModel& m, const Analysis& a);
std::string dump_json(const ojson& j);  // 2-space indent, invalid UTF-8 replaced, trailing newline

// Markdown-safe text for table cells and prose: no character of `s` can start markup,
// break a table row or open HTML.
std::string md_escape(const std::string& s);
// Same, shortened to at most `max` characters (with an ellipsis).
std::string md_short(const std::string& s, size_t max);

// plots: file name -> SVG text
std::map<std::string, std::string> render_plots(const RunModel& m, const Analysis& a);
std::string report_markdown(const RunModel& m, const Analysis& a, const std::map<std::string, std::string>& plots);

// Small number formatting shared by the renderers.
double round_sig(double x, int digits = 6);
std::string human_bytes(double b);

}  // namespace argus::report
