using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Tessera.Packaging.Tests;

/// <summary>
/// What users install: every src/ project packs into a package and a symbols package, each with its README, the licence
/// and the XML docs, with the metadata nuget.org shows; nothing else is packed; the command-line tool installs from its
/// package and runs. (These checks used to be grep over the zip files in test.sh.)
/// </summary>
public sealed partial class PackageTests
{
    [Fact]
    public async Task EverySrcProjectIsPackedWithASymbolsPackageAndNothingElseIsPacked()
    {
        var packed = await PackedSolution.GetAsync();
        Assert.NotEmpty(packed.ShippedProjects);

        var expected = packed.ShippedProjects
            .SelectMany(project => new[] { $"{project}.{packed.Version}.nupkg", $"{project}.{packed.Version}.snupkg" })
            .Order(StringComparer.Ordinal);
        var made = Directory.GetFiles(packed.Directory).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(expected, made);
    }

    [Fact]
    public async Task EverySymbolsPackageHoldsItsProjectsPdb()
    {
        var packed = await PackedSolution.GetAsync();
        foreach (var project in packed.ShippedProjects)
        {
            Assert.True(packed.Entries(project, "snupkg").Any(entry => entry.EndsWith($"/{project}.pdb", StringComparison.Ordinal)), $"{project}.snupkg has no {project}.pdb");
        }
    }

    [Fact]
    public async Task EveryPackageCarriesItsReadmeTheLicenceAndItsAssemblyWithXmlDocs()
    {
        var packed = await PackedSolution.GetAsync();
        foreach (var project in packed.ShippedProjects)
        {
            var entries = packed.Entries(project);
            Assert.True(entries.Contains("README.md"), $"{project}: no README.md at the package root");
            Assert.True(entries.Contains("LICENSE"), $"{project}: no LICENSE at the package root");
            // lib/<tfm>/ for a library, tools/<tfm>/any/ for a tool: the assembly and its XML docs side by side.
            var assembly = entries.SingleOrDefault(entry => entry.EndsWith($"/{project}.dll", StringComparison.Ordinal));
            Assert.True(assembly is not null, $"{project}: no {project}.dll in the package");
            Assert.Contains(assembly[..^"dll".Length] + "xml", entries);
        }
    }

    [Fact]
    public async Task EveryPackageHasTheMetadataNuGetShows()
    {
        var packed = await PackedSolution.GetAsync();
        foreach (var project in packed.ShippedProjects)
        {
            var metadata = packed.Nuspec(project).Elements().Single(element => element.Name.LocalName == "metadata");
            string Value(string name) => (string?)metadata.Elements().SingleOrDefault(element => element.Name.LocalName == name) ?? "";

            Assert.Equal(project, Value("id"));
            Assert.Equal(packed.Version, Value("version"));
            Assert.True(Value("description").Length > 0, $"{project}: no description (set <Description> in the csproj)");
            Assert.True(Value("authors").Length > 0, $"{project}: no authors");
            Assert.True(Value("tags").Length > 0, $"{project}: no tags (set <PackageTags> in the csproj)");
            Assert.Equal("MIT", Value("license"));
            Assert.Equal("README.md", Value("readme"));
            var repository = metadata.Elements().SingleOrDefault(element => element.Name.LocalName == "repository");
            Assert.True(repository?.Attribute("url")?.Value is { Length: > 0 }, $"{project}: no repository URL");
        }
    }

    [Fact]
    public async Task ThePostgreSqlPackageShipsEveryMigrationAsAContentFile()
    {
        var packed = await PackedSolution.GetAsync();
        var migrations = Directory.GetFiles(Path.Combine(packed.Repository, "src", "Tessera.PostgreSql", "Migrations"), "*.sql");
        Assert.NotEmpty(migrations);

        var entries = packed.Entries("Tessera.PostgreSql");
        foreach (var migration in migrations)
        {
            Assert.Contains($"contentFiles/any/any/Tessera.PostgreSql/Migrations/{Path.GetFileName(migration)}", entries);
        }
    }

    [Fact]
    public async Task TheClientPackageDependsOnNeitherAspNetCoreNorTheServerPackages()
    {
        // Tessera.Client goes into MAUI, desktop and console apps: no ASP.NET Core shared framework, no server-side Tessera.
        var packed = await PackedSolution.GetAsync();
        var nuspec = packed.Nuspec("Tessera.Client");
        var dependencies = nuspec.Descendants().Where(element => element.Name.LocalName == "dependency").Select(element => (string)element.Attribute("id")!).ToList();
        var frameworks = nuspec.Descendants().Where(element => element.Name.LocalName == "frameworkReference").Select(element => (string)element.Attribute("name")!).ToList();

        Assert.DoesNotContain(frameworks, name => name.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
        Assert.DoesNotContain(dependencies, id => id.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) || id.StartsWith("Tessera", StringComparison.Ordinal));
        Assert.Contains("Microsoft.Extensions.Http", dependencies);
    }

    [Fact]
    public async Task PackingPrintsNoWarning()
    {
        // Warnings are errors in the build, but pack has warnings of its own the build does not promote.
        var packed = await PackedSolution.GetAsync();
        Assert.Empty(Warnings().Matches(packed.Log).Select(m => m.Value));
    }

    [Fact]
    public async Task EveryToolPackageInstallsFromTheseAlonePackagesAndItsCommandRuns()
    {
        var packed = await PackedSolution.GetAsync();
        var tools = Directory.GetFiles(Path.Combine(packed.Repository, "src"), "*.csproj", SearchOption.AllDirectories)
            .Select(path => XDocument.Load(path))
            .Where(csproj => (string?)csproj.Descendants("PackAsTool").SingleOrDefault() == "true")
            .ToList();
        Assert.NotEmpty(tools);

        var scratch = Directory.CreateTempSubdirectory("tessera-tool-").FullName;
        try
        {
            // Only this run's packages as a feed, and a packages folder of its own: no other feed, no stale copy.
            var config = Path.Combine(scratch, "nuget.config");
            new XDocument(new XElement("configuration", new XElement("packageSources",
                new XElement("clear"), new XElement("add", new XAttribute("key", "tessera-local"), new XAttribute("value", packed.Directory))))).Save(config);
            var environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(scratch, "packages") };
            foreach (var csproj in tools)
            {
                var id = (string)csproj.Descendants("PackageId").Single();
                var command = (string)csproj.Descendants("ToolCommandName").Single();
                var toolPath = Path.Combine(scratch, id);

                var install = await PackedSolution.RunAsync(
                    "dotnet", ["tool", "install", id, "--version", packed.Version, "--tool-path", toolPath, "--configfile", config], scratch, environment);
                Assert.True(install.ExitCode == 0, $"dotnet tool install {id} failed:\n{install.Output}");

                var help = await PackedSolution.RunAsync(Path.Combine(toolPath, command), ["--help"], scratch);
                Assert.True(help.ExitCode == 0, $"`{command} --help` failed:\n{help.Output}");
                Assert.Contains("Usage:", help.Output, StringComparison.Ordinal);
            }
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    [GeneratedRegex(@"^.*: warning .*$", RegexOptions.Multiline)]
    private static partial Regex Warnings();
}
