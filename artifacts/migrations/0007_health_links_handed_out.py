# download_count counted grants of signed links, not downloads: renamed for what it counts.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("artifacts", "0006_list_indexes"),
    ]

    operations = [
        migrations.RenameField(
            model_name="modelartifact",
            old_name="download_count",
            new_name="links_handed_out",
        ),
        migrations.AlterField(
            model_name="modelartifact",
            name="links_handed_out",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Times signed download links were issued for this model",
                verbose_name="download links handed out",
            ),
        ),
    ]
