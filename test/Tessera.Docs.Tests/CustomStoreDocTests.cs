using System.Reflection;
using System.Text.RegularExpressions;
using Tessera.Testing;

namespace Tessera.Docs.Tests;

/// <summary>
/// docs/custom-store.md quotes this project's code. A quote is a fenced block right after a line
/// <c>&lt;!-- snippet: FILE#REGION --&gt;</c>, and must be exactly the lines inside <c>#region REGION</c> of FILE (less
/// their common indent), so the doc and the code cannot drift apart.
/// </summary>
public sealed partial class CustomStoreDocTests
{
    private const string Doc = "custom-store.md";
    private const string Store = "JsonFileSessionStore.cs";

    [Fact]
    public void EveryQuoteIsExactlyTheRegionItNames()
    {
        var quotes = Quotes();

        Assert.NotEmpty(quotes);
        foreach (var (file, region, text) in quotes)
        {
            var regions = Regions(file);
            Assert.True(regions.ContainsKey(region), $"{Doc} quotes {file}#{region}, but {file} has no '#region {region}'.");
            Assert.True(
                regions[region] == text,
                $"{Doc}'s quote of {file}#{region} differs from the code. Copy the region's lines (without their common indent) into the doc.\n--- code:\n{regions[region]}\n--- doc:\n{text}");
        }
    }

    [Fact]
    public void TheDocQuotesTheWholeExampleStoreInOrder()
    {
        var quoted = Quotes().Where(quote => quote.File == Store).Select(quote => quote.Region);

        Assert.Equal(Regions(Store).Keys, quoted);
    }

    [Fact]
    public void TheDocNamesEverySuiteInTessera_Testing()
    {
        var doc = Resource(Doc);
        var suites = typeof(StoreKit).Assembly.GetExportedTypes()
            .Select(SuiteNameOf)
            .Where(name => name.EndsWith("ConformanceTests", StringComparison.Ordinal))
            .ToList();

        Assert.NotEmpty(suites);

        Assert.All(suites, suite => Assert.True(doc.Contains($"`{suite}`", StringComparison.Ordinal), $"{Doc} does not name the suite {suite}: say what it tests and whether the example runs it."));
    }

    [Fact]
    public void TheDocNamesEverySuiteTheExampleRuns()
    {
        var doc = Resource(Doc);
        var run = typeof(CustomStoreDocTests).Assembly.GetTypes()
            .Select(type => type.BaseType)
            .Where(type => type is not null && type.Assembly == typeof(StoreKit).Assembly && type.IsGenericType)
            .Select(type => SuiteNameOf(type!))
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();
        var listed = ExampleRunsLine().Match(doc);

        Assert.True(listed.Success, $"{Doc} has no line starting 'The example runs:'.");
        Assert.Equal(run, SuiteName().Matches(listed.Groups[1].Value).Select(match => match.Groups[1].Value).Order(StringComparer.Ordinal));
    }

    // A suite's name as the doc writes it: SessionStoreConformanceTests for SessionStoreConformanceTests<TKit>.
    private static string SuiteNameOf(Type type) => type.Name.Split('`')[0];

    private static List<(string File, string Region, string Text)> Quotes()
    {
        var lines = Lines(Resource(Doc));
        var quotes = new List<(string, string, string)>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (SnippetMarker().Match(lines[i]) is not { Success: true } marker)
            {
                continue;
            }
            Assert.True(i + 1 < lines.Length && lines[i + 1].StartsWith("```", StringComparison.Ordinal), $"{Doc} line {i + 1}: a snippet marker must be followed by a fenced block.");
            var end = Array.FindIndex(lines, i + 2, line => line == "```");
            Assert.True(end > 0, $"{Doc} line {i + 1}: the fenced block never ends.");
            quotes.Add((marker.Groups[1].Value, marker.Groups[2].Value, string.Join('\n', lines[(i + 2)..end])));
            i = end;
        }
        return quotes;
    }

    // Each region's lines, in file order, less the indent they all share.
    private static Dictionary<string, string> Regions(string file)
    {
        var lines = Lines(Resource(file));
        var regions = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Length; i++)
        {
            var start = lines[i].Trim();
            if (!start.StartsWith("#region ", StringComparison.Ordinal))
            {
                continue;
            }
            var end = Array.FindIndex(lines, i + 1, line => line.Trim().StartsWith("#endregion", StringComparison.Ordinal));
            var body = lines[(i + 1)..end];
            var indent = body.Where(line => line.Trim().Length > 0).Min(line => line.Length - line.TrimStart().Length);
            regions.Add(start["#region ".Length..], string.Join('\n', body.Select(line => line.Length >= indent ? line[indent..] : line.Trim())));
            i = end;
        }
        return regions;
    }

    private static string[] Lines(string text) => text.ReplaceLineEndings("\n").Split('\n');

    private static string Resource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"{name} is not embedded; see Tessera.Docs.Tests.csproj.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().ReplaceLineEndings("\n");
    }

    [GeneratedRegex(@"^<!-- snippet: ([\w.]+)#([\w-]+) -->$")]
    private static partial Regex SnippetMarker();

    // The line and the lines after it, up to the end of the paragraph.
    [GeneratedRegex(@"^The example runs: (.+?)(?:\n\n|\z)", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex ExampleRunsLine();

    [GeneratedRegex(@"`(\w+ConformanceTests)`")]
    private static partial Regex SuiteName();
}
