namespace Tessera.HttpBench;

/// <summary>
/// Puts a run's results into the documentation: the chart and results.json into images/ beside the markdown file, and the generated
/// text between two markers, leaving everything else in the file (other sections, the commentary) as it is.
/// </summary>
internal static class Publish
{
    public const string Begin = "<!-- http-throughput:begin (written by bench/http.sh --publish; edit outside the markers) -->";
    public const string End = "<!-- http-throughput:end -->";

    /// <exception cref="InvalidOperationException">The file or its markers are missing.</exception>
    public static void Into(string markdown, string block, string svg, string? png, string json)
    {
        if (!File.Exists(markdown))
        {
            throw new InvalidOperationException($"{markdown} does not exist.");
        }
        var text = File.ReadAllText(markdown);
        var begin = text.IndexOf(Begin, StringComparison.Ordinal);
        var end = text.IndexOf(End, StringComparison.Ordinal);
        if (begin < 0 || end < begin)
        {
            throw new InvalidOperationException($"{markdown} has no \"{Begin}\" ... \"{End}\" markers to write between.");
        }
        var images = Directory.CreateDirectory(Path.Combine(Path.GetDirectoryName(markdown)!, "images")).FullName;
        File.Copy(svg, Path.Combine(images, "http-throughput.svg"), overwrite: true);
        if (png is not null)
        {
            File.Copy(png, Path.Combine(images, "http-throughput.png"), overwrite: true);
        }
        // Every round's numbers, which the table's medians come from (--from-json renders them again).
        File.Copy(json, Path.Combine(images, "http-throughput.json"), overwrite: true);
        File.WriteAllText(markdown, text[..(begin + Begin.Length)] + "\n" + block.TrimEnd() + "\n" + text[end..]);
    }
}
