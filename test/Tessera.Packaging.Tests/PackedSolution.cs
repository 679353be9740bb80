using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Tessera.Packaging.Tests;

/// <summary>
/// <c>dotnet pack</c> of the whole solution in Release into a fresh directory, once per test run, and what it made: the
/// packages are what users install, so the tests read them as NuGet would (zip entries, the nuspec inside).
/// </summary>
internal sealed partial class PackedSolution
{
    private static readonly Lazy<Task<PackedSolution>> Packed = new(PackAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    private PackedSolution(string repository, string directory, string log)
    {
        Repository = repository;
        Directory = directory;
        Log = log;
    }

    /// <summary>The repository root (where Tessera.slnx is).</summary>
    public string Repository { get; }

    /// <summary>Where the packages are.</summary>
    public string Directory { get; }

    /// <summary>What <c>dotnet pack</c> printed.</summary>
    public string Log { get; }

    /// <summary>The src/ projects: every one of them ships as a package of the same name.</summary>
    public IReadOnlyList<string> ShippedProjects =>
        System.IO.Directory.GetFiles(Path.Combine(Repository, "src"), "*.csproj", SearchOption.AllDirectories)
            .Select(path => Path.GetFileNameWithoutExtension(path))
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>The one version every package has (Directory.Build.props sets it once).</summary>
    public string Version => (string)XDocument.Load(Path.Combine(Repository, "Directory.Build.props")).Descendants("Version").Single();

    /// <summary>The pack, run once (later callers share it).</summary>
    public static Task<PackedSolution> GetAsync() => Packed.Value;

    /// <summary>The package file of <paramref name="project"/> (<c>.nupkg</c> or <c>.snupkg</c>).</summary>
    public string PackagePath(string project, string extension = "nupkg") => Path.Combine(Directory, $"{project}.{Version}.{extension}");

    /// <summary>The entry names of a package.</summary>
    public IReadOnlyList<string> Entries(string project, string extension = "nupkg")
    {
        using var zip = ZipFile.OpenRead(PackagePath(project, extension));
        return zip.Entries.Select(entry => entry.FullName).ToList();
    }

    /// <summary>The package's nuspec, read from inside the package.</summary>
    public XElement Nuspec(string project)
    {
        using var zip = ZipFile.OpenRead(PackagePath(project));
        var entry = zip.GetEntry($"{project}.nuspec") ?? throw new InvalidOperationException($"{project}: no {project}.nuspec in the package");
        using var stream = entry.Open();
        return XDocument.Load(stream).Root!;
    }

    /// <summary>Runs a program to its end and returns its exit code and output (stdout and stderr together).</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> arguments, string workingDirectory, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        start.Environment["MSBUILDTERMINALLOGGER"] = "off";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    private static async Task<PackedSolution> PackAsync()
    {
        var repository = FindRepository();
        var directory = System.IO.Directory.CreateTempSubdirectory("tessera-packages-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(directory);
        // test.sh builds the solution before the tests run: in Release (its default) the pack reuses that build, as
        // the release pipeline would; from another configuration it builds Release itself.
        var built = typeof(PackedSolution).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration == "Release";
        string[] arguments = ["pack", "Tessera.slnx", "-c", "Release", "-o", directory, "-nologo", "-v:m", .. built ? new[] { "--no-build" } : []];
        var (exitCode, output) = await RunAsync("dotnet", arguments, repository);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"dotnet pack failed ({exitCode}):\n{string.Join('\n', ErrorLines().Matches(output).Select(m => m.Value).Distinct())}\n{output}");
        }
        return new PackedSolution(repository, directory, output);
    }

    private static string FindRepository()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Tessera.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException($"Tessera.slnx not found above {AppContext.BaseDirectory}");
    }

    private static void TryDelete(string directory)
    {
        try
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [GeneratedRegex(@"^.*: (fatal )?error .*$", RegexOptions.Multiline)]
    private static partial Regex ErrorLines();
}
