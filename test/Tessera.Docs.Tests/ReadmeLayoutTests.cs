namespace Tessera.Docs.Tests;

/// <summary>
/// The README's layout (the tree under "## Layout") is the map a newcomer reads first: it names every folder they will
/// meet (the top level, each project under src/, test/, samples/ and bench/, and the folders inside src/ and sample
/// projects), and names nothing that is not there.
/// </summary>
public sealed class ReadmeLayoutTests
{
    // Made by builds, tools and runs, never committed (see .gitignore).
    private static readonly HashSet<string> Generated = new(StringComparer.Ordinal)
    {
        "bin", "obj", "node_modules", "TestResults", "BenchmarkDotNet.Artifacts", "artifacts", "data",
    };

    [Fact]
    public void TheLayoutNamesEveryFolderANewcomerMeets()
    {
        var named = LayoutPaths();
        var missing = FoldersANewcomerMeets().Where(folder => !named.Contains(folder)).ToList();

        Assert.True(missing.Count == 0, "README.md's layout does not name: " + string.Join(", ", missing));
    }

    [Fact]
    public void EverythingTheLayoutNamesExists()
    {
        var root = Repository.Root;
        var absent = LayoutPaths().Where(path => !Directory.Exists(Path.Combine(root, path)) && !File.Exists(Path.Combine(root, path))).ToList();

        Assert.True(absent.Count == 0, "README.md's layout names what is not in the tree: " + string.Join(", ", absent));
    }

    /// <summary>
    /// The paths in the layout's tree: one entry per line, indented two spaces per level under its parent folder (a
    /// name ending in <c>/</c>), then what it is after a space.
    /// </summary>
    private static HashSet<string> LayoutPaths()
    {
        var readme = File.ReadAllLines(Path.Combine(Repository.Root, "README.md"));
        var section = readme.SkipWhile(line => line != "## Layout").Skip(1).TakeWhile(line => !line.StartsWith("## ", StringComparison.Ordinal));
        var tree = section.SkipWhile(line => !line.StartsWith("```", StringComparison.Ordinal)).Skip(1).TakeWhile(line => !line.StartsWith("```", StringComparison.Ordinal)).ToList();
        Assert.True(tree.Count > 0, "README.md has no tree (a fenced block) under '## Layout'");

        var paths = new HashSet<string>(StringComparer.Ordinal);
        var parents = new List<string>();
        foreach (var line in tree.Where(line => line.Trim().Length > 0))
        {
            var depth = (line.Length - line.TrimStart().Length) / 2;
            var name = line.Trim().Split(' ', 2)[0];
            Assert.True(depth <= parents.Count, $"README.md's layout: '{line.Trim()}' is indented deeper than a folder above it");
            parents.RemoveRange(depth, parents.Count - depth);
            var path = string.Concat(parents) + name;
            paths.Add(path.TrimEnd('/'));
            if (name.EndsWith('/'))
            {
                parents.Add(name);
            }
        }
        return paths;
    }

    private static IEnumerable<string> FoldersANewcomerMeets()
    {
        var root = Repository.Root;
        foreach (var top in Folders(root))
        {
            yield return top;
        }
        foreach (var group in new[] { "src", "test", "samples", "bench" })
        {
            foreach (var project in Folders(Path.Combine(root, group)))
            {
                yield return $"{group}/{project}";
                if (group is "src" or "samples")
                {
                    foreach (var inner in Folders(Path.Combine(root, group, project)))
                    {
                        yield return $"{group}/{project}/{inner}";
                    }
                }
            }
        }
    }

    private static IEnumerable<string> Folders(string directory) =>
        Directory.Exists(directory)
            ? Directory.GetDirectories(directory)
                .Select(Path.GetFileName)
                .OfType<string>()
                .Where(name => !name.StartsWith('.') && !Generated.Contains(name))
                .Order(StringComparer.Ordinal)
            : [];
}

/// <summary>The repository the tests run from (where Tessera.slnx is).</summary>
internal static class Repository
{
    private static readonly Lazy<string> Found = new(() =>
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Tessera.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException($"Tessera.slnx not found above {AppContext.BaseDirectory}");
    });

    /// <summary>Its root directory.</summary>
    public static string Root => Found.Value;
}
