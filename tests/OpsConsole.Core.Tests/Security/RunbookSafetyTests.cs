using Microsoft.Extensions.Options;
using OpsConsole.Core.Deployments;

namespace OpsConsole.Core.Tests.Security;

/// <summary>A runbook dropped into the folder by hand cannot script the page, and its errors do not show the server's paths.</summary>
public sealed class RunbookSafetyTests
{
    private const string Hostile = """
        # Hostile runbook

        Intro {onclick="alert(1)" style="display:none" .ok #intro-1}

        ## Steps {#steps role=steps}

        A paragraph {onmouseover="steal()" data-x="1" .fine}

        - [ ] Tick me {onfocus="alert(2)" autofocus}

        [click](javascript:alert(3)) [fine](https://example.com/x) [anchor](#steps) [data](data:text/html;base64,PHNjcmlwdD4=)
        """;

    [Fact]
    public void Generic_attributes_of_a_runbook_keep_only_plain_ids_and_classes_and_links_only_safe_urls()
    {
        var runbook = RunbookParser.Parse("hostile", Hostile);

        var html = runbook.IntroHtml + string.Concat(runbook.Sections.SelectMany(s => s.Blocks).Select(b => b switch
        {
            ProseBlock p => p.Html,
            ChecklistItem i => i.Html + i.DetailHtml,
            _ => "",
        }));
        foreach (var forbidden in new[] { "onclick=\"", "onmouseover=\"", "onfocus=\"", "autofocus", "style=\"", "data-x=\"", "href=\"javascript:", "href=\"data:" })
        {
            Assert.DoesNotContain(forbidden, html, StringComparison.OrdinalIgnoreCase);
        }

        Assert.Contains("id=\"intro-1\"", html, StringComparison.Ordinal);
        Assert.Contains("class=\"ok\"", html, StringComparison.Ordinal);
        Assert.Contains("class=\"fine\"", html, StringComparison.Ordinal);
        Assert.Contains("href=\"https://example.com/x\"", html, StringComparison.Ordinal);
        Assert.Contains("href=\"#steps\"", html, StringComparison.Ordinal);
        Assert.Equal(SectionRole.Steps, runbook.Sections.Single().Role);
    }

    [Fact]
    public void A_broken_runbook_in_the_folder_is_reported_by_file_name_without_the_servers_path()
    {
        var folder = Directory.CreateTempSubdirectory("opsconsole-runbooks-");
        try
        {
            File.WriteAllText(Path.Combine(folder.FullName, "broken.md"), "# Broken\n\n## Checks\n\n```sql probe\nSELECT 1\n-- Should be vague\n```\n");
            var catalog = new RunbookCatalog(Options.Create(new DeploymentOptions { RunbookDirectory = folder.FullName }));

            var broken = catalog.List().Single(t => t.Slug == "broken");

            Assert.Null(broken.Runbook);
            Assert.NotEmpty(broken.Problems);
            Assert.Equal("runbook folder, broken.md", broken.Source);
            Assert.DoesNotContain(folder.FullName, broken.Source + string.Join(" ", broken.Problems), StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
