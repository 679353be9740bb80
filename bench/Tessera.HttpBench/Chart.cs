using System.Diagnostics;
using System.Globalization;
using System.Security;
using System.Text;

namespace Tessera.HttpBench;

/// <summary>
/// A horizontal bar chart of the ratios to /healthz, one bar per route of each variant, with the target marked
/// on its row: green when met, red when missed, grey-blue where there is no ratio target. Plain SVG, no script, no
/// fonts to fetch; headless Chromium turns it into a PNG for viewers that do not show SVG.
/// </summary>
internal static class Chart
{
    private const int Width = 960;
    private const int Left = 330;
    private const int Right = 60;
    private const int Top = 74;
    private const int RowHeight = 22;
    private const string Met = "#2e8b57";
    private const string Missed = "#c8553d";
    private const string Neutral = "#7a93ac";

    public static string Svg(IReadOnlyList<Row> rows, string title, string subtitle)
    {
        var bars = rows.Where(r => r.Route != Route.Health && !double.IsNaN(r.Ratio)).ToList();
        var max = Math.Max(1.2, Math.Ceiling(bars.Select(r => double.IsNaN(r.RatioMax) ? r.Ratio : r.RatioMax).DefaultIfEmpty(1).Max() * 5) / 5);
        var plot = Width - Left - Right;
        double X(double ratio) => Left + ratio / max * plot;
        var height = Top + bars.Count * RowHeight + 78;

        var svg = new StringBuilder();
        void Line(FormattableString line) => svg.AppendLine(line.ToString(CultureInfo.InvariantCulture));
        Line($"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{height}" viewBox="0 0 {Width} {height}" font-family="DejaVu Sans, Verdana, sans-serif" font-size="12">""");
        Line($"""<rect width="{Width}" height="{height}" fill="#ffffff"/>""");
        Line($"""<text x="16" y="24" font-size="16" font-weight="bold">{Escape(title)}</text>""");
        Line($"""<text x="16" y="44" fill="#444">{Escape(subtitle)}</text>""");

        // Grid every 0.2, the /healthz line at 1.0.
        for (var tick = 0.0; tick <= max + 1e-9; tick += 0.2)
        {
            var x = X(tick);
            var stroke = Math.Abs(tick - 1) < 1e-9 ? "#555" : "#e2e2e2";
            Line($"""<line x1="{x:0.#}" y1="{Top - 6}" x2="{x:0.#}" y2="{Top + bars.Count * RowHeight}" stroke="{stroke}"/>""");
            Line($"""<text x="{x:0.#}" y="{Top - 10}" text-anchor="middle" fill="#666">{tick:0.0}</text>""");
        }

        for (var i = 0; i < bars.Count; i++)
        {
            var row = bars[i];
            var y = Top + i * RowHeight;
            var ratioTarget = row.Target?.Ratio;
            var color = row.Target is { IsGoal: true } ? row.Met == "yes" ? Met : Missed : Neutral;
            if (i > 0 && bars[i - 1].Variant != row.Variant)
            {
                Line($"""<line x1="16" y1="{y}" x2="{Width - 16}" y2="{y}" stroke="#cfcfcf" stroke-dasharray="2,3"/>""");
            }
            Line($"""<text x="{Left - 8}" y="{y + 15}" text-anchor="end">{Escape(row.Variant.Label)} · {Escape(row.Route.Id)}</text>""");
            Line($"""<rect x="{Left}" y="{y + 4}" width="{Math.Max(1, X(row.Ratio) - Left):0.#}" height="{RowHeight - 8}" fill="{color}"/>""");
            var note = row.Target is { RequestsPerSecond: { } rate }
                ? string.Create(CultureInfo.InvariantCulture, $"  ({row.RequestsPerSecond:N0}/s, target {rate:N0}/s)")
                : "";
            var labelAt = X(row.Ratio);
            if (row.Rounds > 1 && !double.IsNaN(row.RatioMin))
            {
                // The rounds' range: how far one round's ratio strayed from the median on a shared machine.
                var (low, high) = (X(row.RatioMin), X(row.RatioMax));
                Line($"""<line x1="{low:0.#}" y1="{y + RowHeight / 2}" x2="{high:0.#}" y2="{y + RowHeight / 2}" stroke="#333" stroke-width="1"/>""");
                Line($"""<line x1="{low:0.#}" y1="{y + 7}" x2="{low:0.#}" y2="{y + RowHeight - 7}" stroke="#333"/><line x1="{high:0.#}" y1="{y + 7}" x2="{high:0.#}" y2="{y + RowHeight - 7}" stroke="#333"/>""");
                labelAt = Math.Max(labelAt, high);
            }
            Line($"""<text x="{labelAt + 4:0.#}" y="{y + 15}" fill="#222">{row.Ratio:0.00}{Escape(note)}</text>""");
            if (ratioTarget is { } target)
            {
                var x = X(target);
                Line($"""<line x1="{x:0.#}" y1="{y + 1}" x2="{x:0.#}" y2="{y + RowHeight - 1}" stroke="#111" stroke-width="2.5"/>""");
            }
        }

        var legend = Top + bars.Count * RowHeight + 26;
        Line($"""<rect x="16" y="{legend - 10}" width="12" height="12" fill="{Met}"/><text x="34" y="{legend}">target met</text>""");
        Line($"""<rect x="124" y="{legend - 10}" width="12" height="12" fill="{Missed}"/><text x="142" y="{legend}">target missed</text>""");
        Line($"""<rect x="250" y="{legend - 10}" width="12" height="12" fill="{Neutral}"/><text x="268" y="{legend}">no target</text>""");
        Line($"""<line x1="356" y1="{legend - 11}" x2="356" y2="{legend + 3}" stroke="#111" stroke-width="2.5"/><text x="364" y="{legend}">ratio target of the row</text>""");
        Line($"""<line x1="530" y1="{legend - 4}" x2="556" y2="{legend - 4}" stroke="#333"/><text x="562" y="{legend}">range over the rounds (bar: median)</text>""");
        // Runs measured with a closing /healthz have a baseline of two runs (their /healthz row shows the drift between them).
        var bracketed = rows.Any(r => r.Route == Route.Health && !double.IsNaN(r.RatioMin)) ? ": the mean of its runs before and after the routes" : "";
        Line($"""<text x="16" y="{legend + 22}" fill="#444">1.0 = /healthz of the same process in the same round{bracketed}</text>""");
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    /// <summary>The SVG's width and height, for the screenshot's window.</summary>
    public static (int Width, int Height) Size(string svg)
    {
        var height = svg[(svg.IndexOf("height=\"", StringComparison.Ordinal) + 8)..];
        return (Width, int.Parse(height[..height.IndexOf('"', StringComparison.Ordinal)], CultureInfo.InvariantCulture));
    }

    /// <summary>Screenshots the SVG with headless Chromium; false (and why) when Chromium is missing or fails.</summary>
    public static async Task<(bool Ok, string Why)> PngAsync(string chromium, string svgPath, string pngPath, CancellationToken cancellationToken)
    {
        if (!File.Exists(chromium))
        {
            return (false, $"{chromium} not found (apt-get install chromium)");
        }
        var (width, height) = Size(await File.ReadAllTextAsync(svgPath, cancellationToken));
        var profile = Directory.CreateTempSubdirectory("tessera-chart-chromium-");
        try
        {
            var start = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in new[]
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-sync",
                "--disable-background-networking", "--disable-component-update", "--force-device-scale-factor=1",
                $"--user-data-dir={profile.FullName}", $"--window-size={width},{height}", $"--screenshot={pngPath}",
                new Uri(svgPath).AbsoluteUri,
            })
            {
                start.ArgumentList.Add(argument);
            }
            using var process = Process.Start(start)!;
            var output = Task.WhenAll(process.StandardOutput.ReadToEndAsync(cancellationToken), process.StandardError.ReadToEndAsync(cancellationToken));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                return (false, "Chromium did not finish within 60 s");
            }
            var text = string.Concat(await output);
            return process.ExitCode == 0 && File.Exists(pngPath) ? (true, "") : (false, $"Chromium exited with {process.ExitCode}: {text.Trim()}");
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }

    private static string Escape(string text) => SecurityElement.Escape(text);
}
